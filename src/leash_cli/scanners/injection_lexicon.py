"""Multilingual lexicons of the prompt-injection rules (the *rules* layer, beside ``injection.py``'s
English/Romance patterns).

Each language lists stems, written here in their ordinary spelling and folded at import with the
same ``normalize(fold=True)`` the scanner reads text through (lower case, accents stripped,
Cyrillic/Greek look-alikes folded), so "Ignorez", "IGNORÉ" and "іgnore" meet the same stem.

A rule fires when a stem of one role occurs close to a stem of another role, in either order
(verb-final languages put the verb last):

* ``ml_override``: override verb  +  instruction noun (+ a "previous/all/system" qualifier: stronger)
* ``ml_extract``:  disclosure verb + system-prompt / secret target
* ``ml_persona``:  persona switch ("you are now", "act as") + "without restrictions / rules / censorship"
* ``addressed``:   text that speaks to the model from inside content ("AI assistant reading this", "note to the
  summariser"), stronger with an imperative nearby
* ``tool_exfil``:  a send/forward verb or a tool name near an external address (URL, e-mail, IP, webhook),
  stronger with a data noun ("conversation", "password", "api key" ...)

One Aho-Corasick pass over the folded text finds every stem; pairing is done on the (few) hits.
"""

from __future__ import annotations

import bisect
import re

from .normalize import normalize

__all__ = ["lexicon_hits", "lexicon_scan", "LANGUAGES"]

# language: (override verbs, instruction nouns, qualifiers, disclosure verbs, secret targets,
#            persona openers, no-limits phrases, send verbs)
_L: dict[str, tuple[str, str, str, str, str, str, str, str]] = {
    "en": (
        "ignore|ignoring|disregard|forget|override|bypass|skip|neglect|abandon|discard|drop|set aside|"
        "pay no attention|pay no heed|cancel|revoke|void|never mind|nevermind|treat|take no notice of|stop following",
        "instruction|prompt|rules|guideline|directive|guardrail|programming|constraints|system message|policies|policy|"
        "restrictions|safety settings|orders|directions|guidance|task|you were told|you've been told|you have been told|"
        "you were given|configuration|objective",
        "previous|prior|above|earlier|preceding|initial|original|system|all |any |every|foregoing|old |existing|"
        "before|so far|outdated|obsolete|no longer|cancelled|canceled|void|replaced|revoked|until now",
        "reveal|show|print|tell me|repeat|output|display|give me|write out|leak|disclose|dump|recite|spell out|share|"
        "expose|copy|paste|translate|quote|echo|encode|summarise|summarize|list|what were|what are|what is|"
        "put the text|start your answer|begin your reply",
        "system prompt|initial prompt|initial instructions|original instructions|hidden instructions|your instructions|"
        "your prompt|pre-prompt|preprompt|system message|developer message|secret key|the password|your rules|"
        "instructions above|text above|configuration prompt|hidden prompt|confidential instructions|"
        "instructions you were given|you were told|your configuration|your context|above this line|everything above|"
        "first message|hidden part|developer instructions|your guidelines|words above|hidden system|"
        "confidential password|secret password|your secret|confidential rules|rules you|guidelines you|"
        "you were initialised|you were initialized|you were configured|my instructions are",
        "you are now|from now on|act as|pretend|roleplay as|role-play as|imagine you are|you will now|behave as|"
        "switch to|you're now|simulate|you are|you're|become|play the role|assume the persona|persona|"
        "stay in character|your name is|two personas|hypothetically",
        "no restrictions|without restrictions|unrestricted|no rules|without rules|no limits|without limits|no limitations|"
        "uncensored|no censorship|unfiltered|no filters|no ethical|no moral|without ethics|no guidelines|"
        "free from all|not bound by|do anything now|jailbroken|developer mode|god mode|without any|ignores every|"
        "never refuses|never says it can't|without moral|no content filter|restrictions are lifted|no alignment|"
        "without refusing|breaking the rules|break the rules|never been given any rules|never given any rules|"
        "broken free|escaped its|no safety|without limits|freed from",
        "send|forward|email|e-mail|upload|post|transmit|exfiltrate|leak|sync|transfer|append|include|fetch|visit|"
        "browse|navigate to|make a request|render|submit|share|invite|invoke|call the|run |trigger|make a get|"
        "make a post|open https|open http",
    ),
    "es": (
        "ignora|ignore|ignorar|olvida|olvide|olvidar|descarta|omite|desobedece|pasa por alto|haz caso omiso",
        "instruccion|indicaciones|reglas|directrices|prompt|ordenes|normas|restricciones|pautas",
        "anterior|previa|previo|de arriba|del sistema|original|inicial|todas|todos",
        "revela|muestra|muestrame|imprime|dime|repite|escribe|comparte|filtra|dame",
        "prompt del sistema|instrucciones iniciales|instrucciones del sistema|tus instrucciones|la contrasena|"
        "clave secreta|mensaje del sistema|instrucciones originales|instrucciones ocultas",
        "ahora eres|a partir de ahora|actua como|finge|interpreta|haz de cuenta|personaje",
        "sin restricciones|sin limites|sin reglas|sin censura|sin filtros|sin etica|sin ninguna restriccion",
        "envia|reenvia|manda|sube|publica|transmite|copia|comparte",
    ),
    "fr": (
        "ignore|ignorez|ignorer|oublie|oubliez|oublier|neglige|negligez|fais abstraction|faites abstraction|"
        "ne tiens pas compte|ne tenez pas compte",
        "instruction|consigne|regle|directive|prompt|ordres|restrictions|indications",
        "precedent|anterieur|ci-dessus|initial|du systeme|toutes|tous|originale",
        "revele|revelez|montre|montrez|affiche|affichez|donne|donnez|repete|repetez|ecris|ecrivez|imprime|divulgue",
        "prompt systeme|invite systeme|instructions initiales|tes instructions|vos instructions|mot de passe|"
        "message systeme|cle secrete|instructions cachees|instructions d'origine|consignes initiales",
        "tu es maintenant|vous etes maintenant|desormais|a partir de maintenant|fais semblant|faites semblant|"
        "agis comme|agissez comme|joue le role",
        "sans restrictions|sans limites|sans regles|sans censure|sans filtre|sans aucune restriction|sans ethique",
        "envoie|envoyez|transfere|transferez|televerse|publie|transmets|copie",
    ),
    "de": (
        "ignorier|vergiss|vergessen|missacht|uebergeh|ubergeh|setz dich uber|hor auf zu befolgen|verwirf",
        "anweisung|instruktion|regel|vorgabe|richtlinie|befehl|systemprompt|prompt|einschrankung",
        "vorherig|bisherig|obig|ursprunglich|alle |vorangegangen|fruher|vorig|system",
        "zeig|verrat|gib|nenn|wiederhol|druck|schreib|offenbar|gib aus|teile",
        "systemprompt|system-prompt|systemanweisung|deine anweisungen|ihre anweisungen|ursprunglichen anweisungen|"
        "passwort|geheimen schlussel|systemnachricht|versteckten anweisungen|anfanglichen anweisungen",
        "du bist jetzt|du bist nun|ab sofort|ab jetzt|tu so|tu so als|handle als|spiele die rolle|verhalte dich wie",
        "ohne einschrankungen|ohne regeln|ohne grenzen|ohne zensur|ohne filter|uneingeschrankt|ohne jegliche|ohne jede",
        "sende|schick|leite|lade|ubermittle|veroffentliche|kopiere",
    ),
    "it": (
        "ignora|ignorare|dimentica|dimenticare|trascura|non considerare|non tenere conto",
        "istruzion|regol|direttiv|prompt|indicazion|restrizion|linee guida",
        "precedent|sopra|iniziali|originali|del sistema|tutte|tutti",
        "rivela|mostra|mostrami|stampa|dimmi|ripeti|scrivi|condividi",
        "prompt di sistema|istruzioni iniziali|le tue istruzioni|la password|chiave segreta|messaggio di sistema|"
        "istruzioni nascoste|istruzioni originali",
        "ora sei|d'ora in poi|da ora in poi|fingi|agisci come|comportati come|interpreta|personagg",
        "senza restrizioni|senza limiti|senza regole|senza censura|senza filtri|senza etica",
        "invia|inoltra|manda|carica|pubblica|trasmetti|copia",
    ),
    "pt": (
        "ignore|ignora|ignorar|esqueca|esquece|esquecer|desconsidere|desconsidera|descarte|nao siga",
        "instrucoes|instrucao|regras|diretriz|prompt|orientacoes|ordens|restricoes",
        "anterior|acima|inicia|origina|do sistema|todas|todos",
        "revele|revela|mostre|mostra|imprima|diga|repita|escreva|compartilhe",
        "prompt do sistema|instrucoes iniciais|suas instrucoes|senha|chave secreta|mensagem do sistema|"
        "instrucoes ocultas|instrucoes originais",
        "agora voce e|a partir de agora|finja|aja como|atue como|interprete|personagem",
        "sem restricoes|sem limites|sem regras|sem censura|sem filtros|sem etica",
        "envie|encaminhe|mande|carregue|publique|transmita|copie",
    ),
    "nl": (
        "negeer|vergeet|negeren|vergeten|sla over|veronachtzaam|let niet op|trek je niets aan",
        "instructie|opdracht|regel|richtlijn|prompt|aanwijzing|beperking|systeemprompt",
        "vorige|eerdere|bovenstaande|voorgaande|oorspronkelijke|alle |systeem",
        "onthul|toon|laat zien|print|geef|herhaal|schrijf|deel|verklap",
        "systeemprompt|systeeminstructies|oorspronkelijke instructies|je instructies|jouw instructies|wachtwoord|"
        "geheime sleutel|systeembericht|verborgen instructies|eerste instructies",
        "je bent nu|vanaf nu|doe alsof|gedraag je als|speel de rol|doe je voor als",
        "zonder beperkingen|zonder regels|zonder grenzen|zonder censuur|zonder filters|zonder enige beperking",
        "stuur|verstuur|doorsturen|stuur door|upload|verzend|kopieer|mail",
    ),
    "pl": (
        "zignoruj|ignoruj|zapomnij|pomin|zlekcewaz|nie stosuj sie|nie przestrzegaj|odrzuc",
        "instrukcj|polece|zasad|regul|wytyczn|prompt|ogranicze",
        "poprzedni|wczesniejsz|powyzsz|wszystki|systemow|pierwotn",
        "ujawnij|pokaz|wypisz|wyswietl|podaj|powtorz|napisz|zdradz",
        "prompt systemowy|polecenie systemowe|instrukcje systemowe|poczatkowe instrukcje|twoje instrukcje|haslo|"
        "tajny klucz|wiadomosc systemowa|ukryte instrukcje",
        "jestes teraz|od teraz|udawaj|zachowuj sie jak|wciel sie|odgrywaj",
        "bez ograniczen|bez zasad|bez regul|bez cenzury|bez filtrow|bez zadnych ograniczen",
        "wyslij|przeslij|przekaz|wrzuc|opublikuj|skopiuj",
    ),
    "ru": (
        "игнорируй|игнорировать|проигнорируй|забудь|забыть|отбрось|не обращай внимания|пренебреги|не следуй",
        "инструкци|указани|правил|команд|промпт|директив|ограничени|настройк",
        "предыдущ|вышеуказанн|выше|прежн|все |всё|системн|исходн|первоначальн",
        "покажи|раскрой|выведи|напечатай|повтори|скажи|напиши|сообщи|выдай",
        "системный промпт|системные инструкции|системное сообщение|исходные инструкции|свои инструкции|"
        "твои инструкции|пароль|секретный ключ|скрытые инструкции|системную подсказку",
        "теперь ты|отныне ты|с этого момента|притворись|веди себя как|представь что ты|сыграй роль",
        "без ограничений|без правил|без цензуры|без фильтров|без каких-либо ограничений|без морали",
        "отправь|перешли|пошли|загрузи|опубликуй|передай|скопируй",
    ),
    "uk": (
        "ігноруй|проігноруй|забудь|знехтуй|не зважай",
        "інструкці|вказівк|правил|промпт|команд",
        "попередн|усі|всі|вищезазначен|системн",
        "покажи|розкрий|виведи|повтори|скажи|напиши",
        "системний промпт|системні інструкції|пароль|секретний ключ|твої інструкції",
        "тепер ти|відтепер|удавай|поводься як",
        "без обмежень|без правил|без цензури|без фільтрів",
        "надішли|перешли|відправ|завантаж",
    ),
    "tr": (
        "yok say|gormezden gel|unut|dikkate alma|ihmal et|goz ardi et|uyma",
        "talimat|komut|kural|yonerge|istem|prompt|kisitlama|yonlendirme",
        "onceki|yukaridaki|tum |butun|sistem|ilk |orijinal",
        "goster|acikla|yazdir|tekrarla|soyle|ver|paylas|ifsa et|yaz",
        "sistem istemi|sistem komut|sistem talimat|ilk talimat|talimatlarini|sifre|parola|gizli anahtar|"
        "gizli talimat|sistem mesaj",
        "artik sen|bundan sonra|gibi davran|rol yap|rolune gir|farz et",
        "kisitlama olmadan|kisitlamasiz|sinirsiz|kuralsiz|sansursuz|filtresiz|hicbir kural",
        "gonder|ilet|yukle|paylas|aktar|kopyala",
    ),
    "ar": (
        "تجاهل|انس|إنس|اهمل|أهمل|تخل عن|لا تتبع|تغاض عن",
        "التعليمات|تعليمات|الأوامر|اوامر|القواعد|التوجيهات|موجه|الموجه|القيود",
        "السابقة|السابق|أعلاه|اعلاه|جميع|كل |النظام|الأصلية|الاولية|الأولية",
        "اكشف|أظهر|اظهر|اطبع|كرر|أخبرني|اخبرني|اعرض|اكتب|شارك",
        "موجه النظام|تعليمات النظام|التعليمات الأولية|تعليماتك|كلمة المرور|كلمة السر|المفتاح السري|رسالة النظام|"
        "التعليمات المخفية",
        "أنت الآن|انت الان|من الآن فصاعدا|من الان|تظاهر|تصرف ك|تقمص دور|العب دور",
        "بدون قيود|بلا قيود|دون قيود|بدون قواعد|بدون رقابة|بلا حدود|دون أي قيود",
        "أرسل|ارسل|أعد توجيه|حول|ارفع|انشر|انسخ",
    ),
    "fa": (
        "نادیده بگیر|فراموش کن|توجه نکن|کنار بگذار",
        "دستورالعمل|دستورات|قوانین|پرامپت|دستور",
        "قبلی|بالا|همه|سیستم",
        "نشان بده|فاش کن|چاپ کن|تکرار کن|بگو",
        "پرامپت سیستم|دستورات سیستم|رمز عبور|کلید مخفی",
        "از حالا|تو الان|وانمود کن|نقش",
        "بدون محدودیت|بدون قانون|بدون سانسور",
        "ارسال کن|بفرست",
    ),
    "hi": (
        "अनदेखा|भूल जाओ|भूल जाएं|भूल जाइए|नज़रअंदाज़|नजरअंदाज|उपेक्षा|मत मानो|पालन न",
        "निर्देश|नियम|आदेश|प्रॉम्प्ट|संकेत|प्रतिबंध",
        "पिछले|पिछली|ऊपर|सभी|सारे|सिस्टम|मूल|पहले",
        "दिखाओ|दिखाएं|दिखाइए|बताओ|बताएं|बताइए|प्रकट|दोहराओ|दोहराएं|लिखो|छापो|साझा",
        "सिस्टम प्रॉम्प्ट|सिस्टम संकेत|प्रारंभिक निर्देश|मूल निर्देश|अपने निर्देश|पासवर्ड|गुप्त कुंजी|छिपे निर्देश",
        "अब तुम|अब आप|अभी से|नाटक करो|ऐसे व्यवहार|की भूमिका|होने का नाटक",
        "बिना किसी प्रतिबंध|बिना प्रतिबंध|बिना नियम|बिना सीमा|बिना सेंसर|बिना किसी नियम|कोई प्रतिबंध नहीं",
        "भेजो|भेजें|फॉरवर्ड|अपलोड",
    ),
    "bn": (
        "উপেক্ষা|ভুলে যাও|ভুলে যান|অগ্রাহ্য",
        "নির্দেশ|নিয়ম|প্রম্পট|আদেশ",
        "আগের|পূর্ববর্তী|সমস্ত|সব ",
        "দেখাও|দেখান|বলো|বলুন|প্রকাশ",
        "সিস্টেম প্রম্পট|পাসওয়ার্ড|গোপন",
        "এখন তুমি|এখন থেকে|ভান কর",
        "কোনো বিধিনিষেধ|বিধিনিষেধ ছাড়া|নিয়ম ছাড়া",
        "পাঠাও|পাঠান",
    ),
    "zh": (
        "忽略|无视|忘记|忘掉|不要理会|忽視|無視|忘記|不要遵守|抛开|拋開|别管",
        "指令|指示|说明|規則|规则|提示|命令|约束|限制|設定|设定",
        "之前|以上|上面|先前|所有|系统|系統|原始|原来|前面",
        "显示|告诉我|告訴我|输出|輸出|打印|重复|重複|透露|泄露|洩露|展示|说出|說出|顯示|写出",
        "系统提示|系統提示|初始指令|原始指令|你的指令|密码|密碼|秘密|系统消息|系統訊息|隐藏指令",
        "你现在是|你現在是|从现在开始|從現在開始|假装|假裝|扮演",
        "没有任何限制|没有限制|沒有限制|不受限制|无限制|無限制|不受任何约束|没有规则|沒有規則|无审查|不受审查",
        "发送|發送|转发|轉發|上传|上傳|发到|發到|寄给",
    ),
    "ja": (
        "無視|忘れ|従わないで|従うな|破棄",
        "指示|命令|ルール|プロンプト|規則|制約|設定",
        "以前|上記|これまで|すべて|全て|システム|元の|最初の",
        "表示|教えて|出力|繰り返|見せて|明かして|書き出|開示",
        "システムプロンプト|初期指示|元の指示|パスワード|秘密|隠された指示|最初の指示",
        "今からあなたは|これからあなたは|ふりをして|演じて|なりきって",
        "制限のない|制限なし|制約のない|ルールのない|検閲なし|制限がない|何の制限も",
        "送信|転送|送って|アップロード",
    ),
    "ko": (
        "무시|잊어|잊고|따르지 마|버려",
        "지시|명령|규칙|프롬프트|지침|제한|설정",
        "이전|위의|모든|시스템|앞의|원래|기존",
        "보여|알려|출력|반복|공개|말해|밝혀|적어",
        "시스템 프롬프트|초기 지시|원래 지시|비밀번호|암호|비밀 키|숨겨진 지시|시스템 메시지",
        "이제부터|지금부터 너는|척해|역할을|인 것처럼",
        "제한 없는|제한이 없는|제약 없는|규칙 없는|검열 없는|아무 제한|제한 없이",
        "보내|전송|전달|업로드",
    ),
    "vi": (
        "bo qua|phot lo|quen di|quen het|khong tuan theo|lo di",
        "huong dan|chi dan|chi thi|quy tac|quy dinh|loi nhac|menh lenh|han che",
        "truoc|o tren|tat ca|he thong|ban dau",
        "tiet lo|hien thi|in ra|cho toi biet|lap lai|noi ra|viet ra",
        "loi nhac he thong|huong dan ban dau|mat khau|khoa bi mat|chi thi he thong|huong dan an",
        "bay gio ban la|tu gio|gia vo|dong vai|hanh dong nhu",
        "khong co gioi han|khong bi gioi han|khong han che|khong co quy tac|khong kiem duyet|khong gioi han|"
        "khong co bat ky gioi han|bat ky gioi han|khong co bat ky han che",
        "gui|chuyen tiep|tai len",
    ),
    "id": (
        "abaikan|lupakan|acuhkan|jangan ikuti|kesampingkan",
        "instruksi|perintah|aturan|petunjuk|arahan|prompt|batasan",
        "sebelumnya|di atas|semua|sistem|awal",
        "tunjukkan|ungkapkan|tampilkan|cetak|beri tahu|beritahu|ulangi|tuliskan|bocorkan",
        "prompt sistem|instruksi awal|instruksi sistem|kata sandi|kunci rahasia|pesan sistem|instruksi tersembunyi",
        "sekarang kamu|sekarang anda|mulai sekarang|berpura-pura|bertindak sebagai|berperan",
        "tanpa batasan|tanpa aturan|tanpa sensor|tanpa filter|tanpa batas",
        "kirim|teruskan|unggah",
    ),
    "th": (
        "เพิกเฉย|ละเว้น|ลืม|ไม่ต้องสนใจ|ไม่ต้องทำตาม",
        "คำสั่ง|คำแนะนำ|กฎ|ข้อกำหนด|ข้อจำกัด",
        "ก่อนหน้า|ข้างต้น|ทั้งหมด|ระบบ",
        "แสดง|เปิดเผย|บอก|พิมพ์|ทวนซ้ำ",
        "พรอมต์ระบบ|คำสั่งระบบ|รหัสผ่าน|คำสั่งเริ่มต้น|กุญแจลับ",
        "ตอนนี้คุณคือ|จากนี้ไป|แกล้งทำเป็น|สวมบทบาท",
        "ไม่มีข้อจำกัด|ไร้ข้อจำกัด|ไม่มีกฎ|ไม่มีการเซ็นเซอร์",
        "ส่ง|ส่งต่อ|อัปโหลด",
    ),
    "sv": (
        "ignorera|glom|bortse fran|strunta i",
        "instruktion|regl|anvisning|prompt|riktlinje",
        "tidigare|ovanstaende|alla |systemet",
        "visa|avslöja|avsloja|skriv ut|upprepa|beratta",
        "systemprompt|systeminstruktioner|losenord|hemlig nyckel|dina instruktioner",
        "du ar nu|fran och med nu|latsas|agera som",
        "utan begransningar|utan regler|utan censur|utan filter",
        "skicka|vidarebefordra|ladda upp",
    ),
    "da": (
        "ignorer|glem|se bort fra",
        "instruks|regl|regel|anvisning|prompt|retningslinje",
        "tidligere|ovenstaende|alle |systemet",
        "vis|afslor|afslør|skriv|gentag|fortael",
        "systemprompt|systeminstruktioner|adgangskode|passord|hemmelig nogle|dine instrukser",
        "du er nu|fra nu af|lad som om|opfor dig som",
        "uden begraensninger|uten begrensninger|uden regler|uten regler|uden censur",
        "send|videresend|upload",
    ),
    "cs": (
        "ignoruj|zapomen|nedbej|nerespektuj",
        "instrukc|pokyn|pravidl|prikaz|prompt",
        "predchozi|vyse|vsechny|systemov|puvodni",
        "ukaz|prozrad|vypis|zopakuj|rekni|napis",
        "systemovy prompt|systemove pokyny|puvodni pokyny|heslo|tajny klic",
        "ted jsi|od ted|predstirej|chovej se jako",
        "bez omezeni|bez pravidel|bez cenzury|bez filtru",
        "posli|preposli|nahraj",
    ),
    "ro": (
        "ignora|ignorati|uita|uitati|nu tine cont",
        "instructiun|reguli|indicati|comenzi|prompt|restrictii",
        "anterioare|de mai sus|toate|sistem|initiale",
        "dezvaluie|arata|afiseaza|repeta|spune|scrie",
        "promptul de sistem|instructiunile initiale|parola|cheia secreta|instructiunile tale",
        "acum esti|de acum|prefa-te|comporta-te ca",
        "fara restrictii|fara reguli|fara limite|fara cenzura",
        "trimite|redirectioneaza|incarca",
    ),
    "he": (
        "התעלם|שכח|אל תציית|התעלמי",
        "הוראות|ההוראות|כללים|הנחיות|פקודות",
        "הקודמות|הקודמים|למעלה|כל |המערכת",
        "הצג|חשוף|הדפס|חזור על|ספר לי|כתוב",
        "הנחיית המערכת|הוראות המערכת|סיסמה|סיסמא|מפתח סודי|ההוראות שלך",
        "אתה עכשיו|מעכשיו|העמד פנים|תתנהג כמו",
        "ללא הגבלות|בלי הגבלות|ללא כללים|בלי כללים|ללא צנזורה",
        "שלח|העבר|העלה",
    ),
    "el": (
        "αγνόησε|αγνοήστε|ξέχασε|ξεχάστε",
        "οδηγίες|κανόνες|εντολές|οδηγιών",
        "προηγούμενες|όλες|παραπάνω|αρχικές|συστήματος",
        "αποκάλυψε|δείξε|εμφάνισε|επανάλαβε|πες μου|γράψε",
        "μήνυμα συστήματος|αρχικές οδηγίες|κωδικό πρόσβασης|μυστικό κλειδί|τις οδηγίες σου",
        "τώρα είσαι|από τώρα|προσποιήσου|παίξε τον ρόλο",
        "χωρίς περιορισμούς|χωρίς κανόνες|χωρίς λογοκρισία",
        "στείλε|προώθησε|ανέβασε",
    ),
    "tl": (
        "huwag pansinin|kalimutan|balewalain|isantabi",
        "tagubilin|instruksyon|utos|panuntunan|patakaran",
        "nakaraang|lahat|naunang|sistema|itaas",
        "ipakita|ibunyag|sabihin|ulitin|isulat|i-print",
        "system prompt|mga tagubilin mo|ang password|lihim na susi|orihinal na tagubilin",
        "ikaw ay ngayon|mula ngayon|magpanggap|kumilos bilang",
        "walang limitasyon|walang paghihigpit|walang patakaran|walang censorship",
        "ipadala|i-forward|i-upload",
    ),
    "hu": (
        "hagyd figyelmen kivul|felejtsd el|ne vedd figyelembe|ne kovesd",
        "utasitas|szabaly|iranyelv|prompt|korlatoz",
        "korabbi|elozo|osszes|fenti|rendszer",
        "mutasd|fedd fel|ird ki|ismeteld|mondd el",
        "rendszerprompt|rendszer prompt|jelszo|titkos kulcs|utasitasaidat|eredeti utasitas",
        "mostantol|most te vagy|tegyel ugy|viselkedj ugy",
        "korlatozasok nelkul|szabalyok nelkul|cenzura nelkul|korlatlan",
        "kuldd|tovabbitsd|toltsd fel",
    ),
    "fi": (
        "ohita|unohda|jata huomiotta|ala noudata",
        "ohje|saanto|kehote|prompt|rajoitu",
        "aiemm|edellis|kaikki|ylla|jarjestelma",
        "nayta|paljasta|tulosta|toista|kerro|kirjoita",
        "jarjestelmakehote|jarjestelman ohjeet|salasana|salainen avain|alkuperaiset ohjeet",
        "olet nyt|tasta lahtien|teeskentele|toimi kuin",
        "ilman rajoituksia|ilman saantoja|ilman sensuuria|rajoittamaton",
        "laheta|valita|lataa",
    ),
    "sw": (
        "puuza|sahau|usifuate|achana na",
        "maagizo|maelekezo|sheria|amri",
        "yaliyotangulia|yote|awali|ya mfumo|hapo juu",
        "onyesha|funua|rudia|niambie|andika",
        "maagizo ya mfumo|nenosiri|ufunguo wa siri|maagizo yako",
        "sasa wewe ni|kuanzia sasa|jifanye",
        "bila vikwazo|bila sheria|bila mipaka|bila udhibiti",
        "tuma|sambaza|pakia",
    ),
    "ur": (
        "نظر انداز|بھول جاؤ|بھول جائیں|مت مانو|پرواہ نہ کرو",
        "ہدایات|ہدایت|احکامات|قواعد|اصول|پرامپٹ",
        "پچھلی|پچھلے|اوپر|تمام|سسٹم|سابقہ",
        "دکھاؤ|دکھائیں|بتاؤ|بتائیں|ظاہر کرو|دہراؤ|لکھو",
        "سسٹم پرامپٹ|پاس ورڈ|خفیہ کلید|اپنی ہدایات|ابتدائی ہدایات",
        "اب تم|اب سے|ایسا ظاہر کرو|کا کردار",
        "بغیر کسی پابندی|بغیر پابندی|بغیر اصول|کوئی پابندی نہیں",
        "بھیجو|بھیجیں|فارورڈ|اپلوڈ",
    ),
    "ta": (
        "புறக்கணி|மறந்துவிடு|மறந்து விடு|பின்பற்றாதே",
        "வழிமுறை|அறிவுறுத்தல்|கட்டளை|விதிகள்|விதி",
        "முந்தைய|மேலே|எல்லா|அனைத்து|கணினி",
        "காட்டு|வெளிப்படுத்து|சொல்|மீண்டும் எழுது|அச்சிடு",
        "கணினி அறிவுறுத்தல்|கடவுச்சொல்|ரகசிய|உன் அறிவுறுத்தல்",
        "இப்போது நீ|இனிமேல்|போல் நடி",
        "கட்டுப்பாடுகள் இல்லாமல்|எந்த கட்டுப்பாடும் இல்லாத|விதிகள் இல்லாமல்",
        "அனுப்பு|பதிவேற்று",
    ),
    "te": (
        "విస్మరించు|మర్చిపో|పట్టించుకోకు",
        "సూచనలు|ఆదేశాలు|నియమాలు",
        "మునుపటి|పైన|అన్ని|సిస్టమ్",
        "చూపించు|వెల్లడించు|చెప్పు|ముద్రించు",
        "సిస్టమ్ ప్రాంప్ట్|పాస్‌వర్డ్|రహస్య",
        "ఇప్పుడు నువ్వు|ఇకపై|నటించు",
        "పరిమితులు లేకుండా|నియమాలు లేకుండా",
        "పంపు|అప్‌లోడ్",
    ),
    "mr": (
        "दुर्लक्ष कर|विसरून जा|विसरा|पाळू नकोस",
        "सूचना|नियम|आदेश|प्रॉम्प्ट",
        "मागील|आधीच्या|वरील|सर्व|सिस्टम",
        "दाखव|दाखवा|सांग|सांगा|उघड कर",
        "सिस्टम प्रॉम्प्ट|पासवर्ड|गुप्त किल्ली",
        "आता तू|यापुढे|असल्याचे नाटक",
        "कोणत्याही बंधनाशिवाय|बंधनाशिवाय|नियमांशिवाय",
        "पाठव|पाठवा|अपलोड",
    ),
    "ms": (
        "abaikan|lupakan|jangan ikut|ketepikan",
        "arahan|peraturan|perintah|panduan|prompt",
        "sebelum ini|terdahulu|di atas|semua|sistem",
        "tunjukkan|dedahkan|paparkan|beritahu|ulang|tuliskan|salin",
        "prompt sistem|arahan sistem|kata laluan|kunci rahsia|arahan asal",
        "kini anda|mulai sekarang|berpura-pura|bertindak sebagai",
        "tanpa sekatan|tanpa had|tanpa peraturan|tanpa tapisan",
        "hantar|majukan|muat naik",
    ),
    "no": (
        "ignorer|glem|se bort fra|overse",
        "instruksjon|instrukser|regler|retningslinje|prompt|systemprompt",
        "tidligere|ovenstaende|alle |systemet|forrige",
        "vis|avslor|skriv ut|gjenta|fortell",
        "systemprompt|systeminstruksjon|passord|hemmelig nokkel|dine instrukser|instruksjonene dine",
        "du er na|fra na av|lat som|oppfor deg som",
        "uten begrensninger|uten regler|uten sensur|uten filter",
        "send|videresend|last opp",
    ),
    "sk": (
        "ignoruj|zabudni|nedbaj|nerespektuj",
        "pokyn|instrukci|pravidl|prikaz|prompt",
        "predchadzajuc|vyssie|vsetky|systemov|povodn",
        "ukaz|prezrad|vypis|zopakuj|povedz|napis",
        "systemovy prompt|systemove pokyny|povodne pokyny|heslo|tajny kluc",
        "teraz si|od teraz|predstieraj|spravaj sa ako",
        "bez obmedzeni|bez pravidiel|bez cenzury|bez filtrov",
        "posli|preposli|nahraj",
    ),
    "bg": (
        "игнорирай|забрави|пренебрегни|не следвай",
        "инструкци|указани|правила|команди|промпт",
        "предишн|горн|всички|системн|първоначалн",
        "покажи|разкрий|изведи|повтори|кажи|напиши",
        "системния промпт|системен промпт|системните инструкции|парола|таен ключ|твоите инструкции",
        "сега ти си|отсега нататък|преструвай се|дръж се като",
        "без ограничения|без правила|без цензура|без филтри",
        "изпрати|препрати|качи",
    ),
    "hr": (
        "zanemari|ignoriraj|zaboravi|ne slijedi|ignorisi",
        "uput|instrukcij|pravil|naredb|prompt",
        "prethodn|gore navedene|sve |svih|sustavsk|sistemsk|izvorn",
        "pokazi|otkrij|ispisi|ponovi|reci|napisi",
        "sistemski prompt|sustavski prompt|sistemske upute|lozinku|lozinka|tajni kljuc|svoje upute",
        "sada si|od sada|pretvaraj se|ponasaj se kao",
        "bez ogranicenja|bez pravila|bez cenzure|bez filtera",
        "posalji|proslijedi|ucitaj",
    ),
    "sr": (
        "занемари|игнориши|заборави",
        "упутства|инструкциј|правила|наредб",
        "претходн|сва |све |системск",
        "покажи|откриј|испиши|понови|реци",
        "системски промпт|лозинку|лозинка|тајни кључ",
        "сада си|од сада|претварај се",
        "без ограничења|без правила|без цензуре",
        "пошаљи|проследи",
    ),
    "sl": (
        "prezri|ignoriraj|pozabi|ne upostevaj",
        "navodil|pravil|ukaz|poziv|prompt",
        "prejsnj|zgornj|vsa |vse |sistemsk|prvotn",
        "pokazi|razkrij|izpisi|ponovi|povej|napisi",
        "sistemski poziv|sistemski prompt|geslo|skrivni kljuc|svoja navodila",
        "zdaj si|od zdaj|pretvarjaj se|obnasaj se kot",
        "brez omejitev|brez pravil|brez cenzure|brez filtrov",
        "poslji|posreduj|nalozi",
    ),
    "ca": (
        "ignora|oblida|no facis cas|descarta",
        "instruccions|regles|directrius|indicacions|prompt",
        "anteriors|previes|de dalt|totes|tots|del sistema|originals",
        "mostra|revela|ensenya|digues|repeteix|escriu",
        "prompt del sistema|instruccions del sistema|contrasenya|clau secreta|les teves instruccions",
        "ara ets|a partir d'ara|fes veure|actua com",
        "sense restriccions|sense limits|sense regles|sense censura",
        "envia|reenvia|puja",
    ),
    "gl": (
        "ignora|esquece|non fagas caso",
        "instrucions|regras|directrices|indicacions",
        "anteriores|previas|de arriba|todas|do sistema",
        "amosa|revela|dime|repite|escribe",
        "prompt do sistema|instrucions do sistema|contrasinal|chave secreta",
        "agora es|a partir de agora|finxe",
        "sen restricions|sen limites|sen regras|sen censura",
        "envia|reenvia",
    ),
    "et": (
        "ignoreeri|unusta|ara jargi",
        "juhis|juhend|reegl|kask|viip",
        "eelnev|varasem|koik|ulaltoodud|susteemi",
        "naita|paljasta|kuva|korda|utle|kirjuta",
        "susteemiviip|susteemi juhised|parool|salajane voti|oma juhised",
        "nuud oled sa|nuud sa oled|edaspidi|teeskle",
        "ilma piiranguteta|ilma reegliteta|ilma tsensuurita",
        "saada|edasta|laadi ules",
    ),
    "lt": (
        "ignoruok|pamirsk|nepaisyk|nesilaikyk",
        "instrukcij|nurodym|taisykl|komand",
        "ankstesn|visas|visus|auksciau|sistemos",
        "parodyk|atskleisk|isvesk|pakartok|pasakyk|parasyk",
        "sistemos raginim|sistemos instrukcij|slaptazod|slaptas raktas",
        "dabar tu esi|nuo dabar|apsimesk|elkis kaip",
        "be apribojimu|be taisykliu|be cenzuros",
        "issiusk|persiusk|ikelk",
    ),
    "lv": (
        "ignore|aizmirsti|neievero",
        "instrukcij|noteikum|noradijum|komand|uzvedn",
        "ieprieksej|visas|visus|augstak|sistemas",
        "paradi|atklaj|izvadi|atkarto|pastasti|uzraksti",
        "sistemas uzvedn|sistemas instrukcij|parol|slepen",
        "tagad tu esi|no sa bridi|izliecies",
        "bez ierobezojumiem|bez noteikumiem|bez cenzuras",
        "nosuti|parsuti|augsupielade",
    ),
    "az": (
        "nezere alma|unut|mehel qoyma|gormezden gel",
        "telimat|qayda|emr|gosteris",
        "evvelki|yuxaridaki|butun|sistem",
        "goster|acikla|yaz|tekrarla|soyle",
        "sistem telimat|sifre|parol|gizli acar",
        "indi sen|bundan sonra|ozunu ... kimi apar",
        "mehdudiyyetsiz|qaydasiz|senzurasiz",
        "gonder|yonlendir|yukle",
    ),
    "sq": (
        "injoro|harro|mos ndiq",
        "udhezim|rregull|komand",
        "meparshme|me siper|te gjitha|sistemit",
        "trego|zbulo|shfaq|perserit|shkruaj",
        "prompt e sistemit|udhezimet e sistemit|fjalekalim|celes sekret",
        "tani je|nga tani|bej sikur",
        "pa kufizime|pa rregulla|pa censure",
        "dergo|percill|ngarko",
    ),
}

LANGUAGES = tuple(sorted(_L))

_ROLES = ("verb", "noun", "qual", "show", "target", "persona", "nolimit", "send")

# text addressed to the model from inside content (an e-mail, a web page, a code comment, a tool result)
_ADDRESSEE = (
    "ai assistant|dear ai|if you are an ai|if you're an ai|note to the ai|note to the assistant|"
    "note to the summariser|note to the summarizer|to the language model|language model:|llm:|"
    "llm instructions|instructions for the language model|instructions for the ai|instructions for the assistant|"
    "hey copilot|hey chatgpt|hey claude|hey gemini|attention ai|ai agent|to any ai|ai model processes|"
    "when an ai|when the ai|dear assistant|assistant, |[assistant]|ai reading this|assistant reading this|"
    "model reading this|bot reading this|if you are a language model|if you are an llm|"
    "an die ki|a la ia|a l'ia|aan de ai|do ai|para a ia|alla ia|к ии|لمساعد الذكاء|给ai|致ai|ai助手|"
    "whichever assistant|whichever ai|whichever model|whichever llm|any assistant that|any model that|any llm that|"
    "for coding assistants|for ai assistants|for ai agents|for the coding assistant|note for the model|note for the ai|"
    "note for the assistant|message for the ai|message to the ai|message for the assistant|model: when|model: before|"
    "model: if|ai: when|ai: before|assistant: when|assistant: before|ai that reads|ai that processes|"
    "model that reads|model that processes|assistant that reads|assistant that processes|agent reading|"
    "ki-system|ki system|das ki-|hinweis an die|hinweis an das|hinweis fur die ki|an das ki|"
    "para la ia|la ia que|pour l'ia|l'ia qui|per l'ia|l'ia che|voor de ai|de ai die|para a ia que|"
    "dla ai|do modelu|для ии|для ассистента|ии, который|yapay zekaya|için yapay zeka|للذكاء الاصطناعي|"
    "给ai的|给模型|ai에게|aiへ|ai への|एआई के लिए|untuk ai|cho ai|"
    # the reader a planted note addresses in a document or a tool result ("notice to automated assistants",
    # "for the assistant handling this traveller's questions", "Pokyn pro AI asistenty", "если ты ИИ"): a
    # preposition or a condition before the AI noun, or a reading verb after it -- the AI noun alone ("our AI
    # assistant", "KI-Assistent") is as common in policies and security writing as in attacks
    "notice to automated|note to automated|for automated systems|to automated readers|automated reader|"
    "automated reviewer|automated systems reading|language model reading|language models reading|"
    "language model assisting|language model processing|to any language model|for language models|llm reading|"
    "llms reading|llm processing|for llms|read by an ai|read by a language model|read by an llm|"
    "read by an automated|processed by an ai|processed by an automated|summarised by an ai|summarized by an ai|"
    "ai systems reading|the assistant handling|assistant handling|assistant summaris|assistant summariz|"
    "if you are an assistant|if you are a chatbot|if you are an automated|if you're an automated|if you are a bot|"
    "ai model reading|for the automated|to the automated|for any assistant|for any ai|for ai systems|"
    "for chatbots|to chatbots|to ai systems|ai reviewer|"
    "destinee aux assistants|destinee aux ia|destine aux assistants|a l'attention des assistants|"
    "a l'attention de l'ia|a l'attention des ia|si vous etes un assistant|si tu es un assistant|"
    "si vous etes une ia|si tu es une ia|tout assistant|toute ia|aux assistants ia|aux assistants d'ia|"
    "pour les assistants|pour l'assistant|aux modeles de langage|aux ia|"
    "wenn du eine ki bist|falls du eine ki bist|wenn sie eine ki sind|hinweis fur ki|jede ki|chatbots, die|"
    "ki-assistenten, die|ki-systeme, die|sprachmodelle, die|an ki-assistenten|fur ki-assistenten|an ki-systeme|"
    "fur ki-systeme|an alle ki|"
    "si eres un asistente|si usted es un asistente|si eres una ia|cualquier asistente|cualquier ia|"
    "nota para el asistente|nota para la ia|nota para los asistentes|para el asistente|para los asistentes|"
    "a los asistentes|asistentes automaticos|asistente automatico|"
    "se voce e um assistente|se voce e uma ia|nota para o assistente|nota para a ia|qualquer assistente|"
    "qualquer ia|para o assistente|para os assistentes|aos assistentes|"
    "se sei un assistente|se sei un'ia|se sei una ia|nota per l'assistente|nota per l'ia|qualsiasi assistente|"
    "qualsiasi ia|per l'assistente|agli assistenti|"
    "als je een ai bent|als u een ai bent|notitie voor de ai|opmerking voor de ai|elke assistent|elke ai|"
    "voor ai-assistenten|aan de ai-assistent|till ai-|til ai-|"
    "uwaga dla ai|uwaga dla systemu|uwaga dla asystenta|jeśli jesteś ai|jeśli jesteś asystentem|"
    "dla asystenta ai|dla asystentów|dla systemu ai|dla systemów ai|"
    "pokyn pro ai|poznámka pro ai|pro ai asistent|pro asistent|pokyn pre ai|pre ai asistent|"
    "pentru asistentul|pentru asistenții|dacă ești un asistent|notă pentru ai|pentru ai|pentru sistemele ai|"
    "ha egy mi vagy|ha mesterséges intelligencia vagy|mi-asszisztenseknek|"
    "для автоматических систем|если ты нейросеть|для нейросети|если ты ии|если вы ии|если ты ассистент|для ии-|"
    "ии-ассистенту|ассистенту ии|для языковой модели|для ассистентов|"
    "для ші|якщо ти ші|для штучного інтелекту|ші-асистенту|асистенту ші|для асистента|для мовної моделі|за ии|"
    "yapay zeka asistanına|yapay zeka asistanlarına|eğer bir yapay zekaysan|eğer yapay zekaysan|"
    "yapay zeka modeline|dil modeline|ai asistanına|"
    "για την τεχνητή νοημοσύνη|προς τον βοηθό|για τον βοηθό|αν είσαι βοηθός|αν είσαι τεχνητή νοημοσύνη|"
    "dành cho trợ lý|gửi trợ lý|dành cho hệ thống ai|dành cho mô hình|"
    "catatan untuk ai|jika anda adalah ai|kepada ai|untuk asisten ai|kepada asisten ai|bagi asisten ai|"
    "untuk sistem ai|kwa msaidizi wa ai|"
    "若你是ai|如果你是ai|如果您是ai|致所有ai|给ai助手|给人工智能|致人工智能|给智能助手|"
    "aiへの指示|ai向け|ai 向け|aiアシスタントへ|aiアシスタントの方|aiの方へ|aiエージェントへ|あなたがaiなら|"
    "ai 도우미에게|ai 비서에게|ai 어시스턴트에게|ai 모델에게|인공지능에게|검토하는 ai|요약하는 ai|읽는 ai|"
    "एआई सहायक के लिए|एआई सहायक को|यदि आप एआई हैं|अगर आप एआई हैं|"
    "إلى المساعد|إذا كنت مساعد|إلى نماذج الذكاء|إلى أنظمة الذكاء|إلى مساعد الذكاء|لمساعدي الذكاء|للمساعد الذكي|"
    "לעוזר הבינה|לעוזרי בינה|למערכות בינה מלאכותית|אם אתה בינה מלאכותית|אם אתה עוזר|למודל השפה|לעוזר ai|"
    "برای دستیار هوش مصنوعی|به دستیار هوش مصنوعی|اگر هوش مصنوعی هستی|اگر دستیار هستی|"
    "ถึงผู้ช่วย ai|สำหรับผู้ช่วย ai|ถึงผู้ช่วยเอไอ|หากคุณเป็น ai"
)
# the state words of an override that names no verb: "the previous instructions are void / outdated / replaced"
_STATE = (
    "outdated|obsolete|replaced|superseded|void|cancelled|canceled|revoked|no longer apply|no longer applies|"
    "no longer valid|do not apply|don't apply|does not apply|was a test|were a test|is over|are over|expired|"
    "ya no aplica|ya no son validas|obsoletas|ne sont plus valables|ne s'appliquent plus|nicht mehr gultig|"
    "gelten nicht mehr|niet meer geldig|gelden niet meer|больше не действуют|устарели|"
    "just a test|only a test|a test run|the test run|a warm-up|a warmup|warm-up|only a draft|a discarded draft|"
    "thrown away|filler|not in effect|no longer in effect|out of date|written by an attacker|came from an attacker|"
    "came from someone|a decoy|fake instructions|was fake|were fake|is fake|are fake|not real|not binding|"
    "n'etait qu'un|n'etaient que|qu'un essai|qu'un test|war nur ein|waren nur|nur ein test|era solo|eran solo|"
    "solo una prueba|solo un ensayo|era solo un test|era solo una prova|bylo tylko|byly tylko|tylko testem|"
    "было проверкой|это проверка|только тест|was maar een|slechts een test|sadece bir test|sadece testti|"
    "只是测试|只是个测试|只是一个测试|テストにすぎ|テストだった|테스트였|hanya ujian|chi la thu nghiem|"
    "hayana maana|sio halali"
)
_STEALTH = (
    "without asking|do not mention|don't mention|dont mention|silently|quietly|without telling|don't tell the user|"
    "do not tell the user|before answering|before responding|without the user|behind the user|secretly|"
    "sin preguntar|sans demander|ohne zu fragen|zonder te vragen|不要告诉|ничего не говори|никому не говори|"
    "tell nobody|tell no one|don't inform|do not inform|no confirmation|without confirmation|without confirming|"
    "without any confirmation|say the task was completed|report success|pretend it worked|without a trace|"
    "cover your tracks|delete the evidence|sans confirmation|sans demander confirmation|sans rien dire|"
    "ohne ruckfrage|ohne bestatigung|bestatige nichts|sag niemandem|zeg tegen niemand|zonder bevestiging|"
    "sin confirmacion|sin avisar|no avises|no le digas|senza conferma|senza avvisare|sem confirmacao|sem avisar|"
    "bez potwierdzenia|nikomu nie mow|без подтверждения|не предупреждая|onay almadan|kimseye soyleme|"
    "无需确认|不要通知|確認せずに|확인 없이|tanpa konfirmasi"
)
_IMPERATIVE = (
    "ignore|do not|don't|instead|must|send|forward|reply|respond|tell|output|stop|insert|call|rate|"
    "recommend|list|say|print|reveal|disregard|delete|approve|execute|run|share"
)
# more imperatives, looked for only near text addressed to the AI (common words: searched in its window only)
_IMPERATIVE_MORE = (
    "email|leave out|omit|add|"
    "give|mark|describe|write|remove|grant|transfer|include|mention|when you|before you|before replying|"
    "report|claim|state that|pretend|treat|once you|after you|disable|enable|"
    "ignoriere|gib|schick|sende|markiere|ignora|marca|envia|envoie|ignore|supprime|stuur|negeer|"
    "игнорируй|отправь|скажи"
)
# a reference to what came before, or to whoever set the model up: "everything above", "whatever the operator
# configured" -- with a state word ("was a test", "is not in effect") an override that names no verb
_PRIOR_REF = (
    "everything above|everything before this|everything before that|everything prior|all of the above|"
    "all of that|all that earlier|earlier stuff|that earlier|the paragraph above|the text above|the message above|"
    "the content above|the prompt above|the lines above|what came before|whatever came before|anything above|"
    "whatever the operator|whatever the developer|whatever the developers|what the developers|what the developer|"
    "what the operator|what your developer|what your creators|whatever you were told|what you were told|"
    "the setup you|your setup|the setup text|setup message|the configuration you|previous context|prior context|"
    "the preceding|earlier context|your earlier|everything so far|all previous|all prior|"
    "tout ce qui precede|tout ce qui est au-dessus|ce qui precede|alles oben|alles, was oben|alles bisherige|"
    "alles davor|lo anterior|todo lo anterior|todo lo de arriba|tutto quanto sopra|tutto cio che precede|"
    "tudo acima|tudo o que veio antes|alles hierboven|alles hiervoor|wszystko powyzej|wszystko wczesniej|"
    "все, что выше|всё, что выше|все, что было выше|всё, что было выше|все выше|yukaridaki her sey|"
    "以上所有|上面的所有|上面所有|前面的内容|以上の内容|これまでの内容|위의 모든|이전의 모든|semua di atas|"
    "tat ca o tren|ऊपर का सब"
)
# a claim that the *real* task starts here: "the real task is", "your one job", "starting with this message"
_REAL_TASK = (
    "the real task|the actual task|your real task|your actual task|the real request|the genuine request|"
    "the actual request|the real assignment|the actual assignment|the real job|your real job|your one job|"
    "your only job|your new job|your only task|your new task|your new role|your new purpose|your true purpose|"
    "what i actually need|what i really need from you|here is what you will do|here's what you will do|"
    "starting with this message|starting from this message|from this message on|from this point on|"
    "from this point forward|you answer only to me|you now answer to me|my word replaces|my instructions replace|"
    "i am the new operator|i am your new operator|i am the new admin|i am your developer|i am your admin|"
    "i'm the new operator|i'm your developer|takes priority over|take priority over|supersedes|"
    "die eigentliche aufgabe|deine eigentliche aufgabe|die wahre aufgabe|deine neue aufgabe|ta vraie mission|"
    "ta vraie tache|la vraie tache|ta nouvelle mission|ta nouvelle tache|tu verdadera tarea|la verdadera tarea|"
    "tu nueva tarea|tu vera missione|il tuo vero compito|il tuo nuovo compito|sua verdadeira tarefa|"
    "a verdadeira tarefa|je echte taak|je eigenlijke taak|je nieuwe taak|twoje prawdziwe zadanie|"
    "prawdziwe zadanie|twoje nowe zadanie|настоящая задача|твоя настоящая задача|твоя новая задача|"
    "asil gorevin|gercek gorevin|yeni gorevin|真正的任务|你真正的任务|你的新任务|本当のタスク|本当の仕事|"
    "진짜 임무|실제 작업|tugas sebenarnya|tugasmu yang sebenarnya|nhiem vu thuc su|असली काम|असली काम है"
)
# what was given to the model, named as an ordinary thing ("the rules you were set up with", "the text that
# was loaded into you"): a disclosure target
_GIVEN = (
    "you were set up with|you've been set up with|you were configured with|you were given|you've been given|"
    "you have been given|loaded into you|given to you|they gave you|you received at the start|"
    "you were told to|you've been told to|you were asked to follow|you were instructed|were you told|"
    "before i started typing|before my first message|ahead of my first message|at the start of this chat|"
    "at the start of this conversation|at the beginning of this chat|at the beginning of this conversation|"
    "into your configuration|your setup message|your setup text|"
    "keep confidential|keep secret|keep hidden|told to keep|put in your|programmed into you|"
    "die man dir|dir vorgegeben|dir gegeben|man dir gegeben|qu'on t'a donne|qu'on t'a donnees|qu'on t'a fourni|"
    "te han dado|que te dieron|que te han dado|che ti hanno dato|che ti sono state date|que te deram|"
    "die je hebt gekregen|je hebt meegekregen|ktore dostales|ktore ci dano|которые тебе дали|тебе дали|"
    "sana verilen|给你的|给你设定|あなたに与えた|あなたに与えられた|너에게 주어진|yang diberikan kepadamu|"
    "yang diberikan kepada anda|duoc giao cho ban|तुम्हें दिए गए"
)
# the manner of a disclosure: "word for word", "verbatim", "in full"
_VERBATIM = (
    "word for word|verbatim|in the exact wording|exact wording|in full|one per line|character for character|"
    "walk me through|copy out|mot pour mot|textuellement|wortlich|wort fur wort|palabra por palabra|"
    "textualmente|parola per parola|testualmente|palavra por palavra|woord voor woord|letterlijk|"
    "slowo w slowo|doslownie|дословно|слово в слово|kelimesi kelimesine|原样|一字不差|逐字|そのまま|"
    "一字一句|그대로|kata demi kata|tung chu|शब्दशः"
)
# fiction / hypothetical framings, and the harmful requests they wrap
_FICTION = (
    "write a story|in a story|a story where|a story in which|in a fictional|fictional world|in a novel|"
    "a novel where|hypothetically|in a hypothetical|imagine a world|imagine a universe|parallel universe|"
    "alternate universe|let's play a game|lets play a game|you're an actor|you are an actor|stay in the role|"
    "stay in character|for a movie script|in a screenplay|my grandmother used to|my late grandmother|"
    "grandma used to|as a thought experiment|purely fictional|for a novel|in this universe|in that universe|"
    "schreib eine geschichte|in einer geschichte|stell dir vor|ecris une histoire|imagine que|"
    "escribe una historia|imagina que|en una novela|scrivi una storia|immagina che|escreva uma historia|"
    "schrijf een verhaal|stel je voor|napisz opowiadanie|wyobraz sobie|представь, что|представь что|"
    "напиши рассказ|персонаж романа|hayal et|bir hikaye yaz|写一个故事|假设|想象|物語を書いて|想像して|"
    "이야기를 써|상상해|bayangkan|hay tuong tuong|कल्पना करो|एक कहानी"
)
_HARM = (
    "bomb|pipe bomb|explosive|napalm|thermite|methamphetamine|meth |cocaine|heroin|fentanyl|ricin|sarin|"
    "nerve agent|poison|untraceable|bioweapon|chemical weapon|ransomware|keylogger|malware|credit card numbers|"
    "card numbers|activation keys|license keys|steal a car|hotwire|break into|hack into|forge a|forged|"
    "counterfeit|launder|phishing|make a gun|ghost gun|kill someone|hurt someone|self-harm|suicide method|"
    "lock pick|ganzua|crochetar|bombe|sprengstoff|explosivo|veleno|gift mischen|kurzschlie|"
    "взломать|взрывчатк|бомбу|наркотик|яд |爆炸物|炸弹|毒品|黑进|爆弾|폭탄|해킹"
)
# destructive and transfer verbs, "all / every", and what they act on (tool hijack without a named tool)
_DESTROY = (
    "delete|remove|wipe|erase|destroy|purge|shred|rm -rf|format the|truncate|drop all|overwrite|encrypt all|"
    "loschen|losche|loscht|supprime|supprimez|efface|verwijder|wis |borra|elimina|cancella|apague|exclua|"
    "usun|skasuj|удали|сотри|uničti|sil |删除|削除|삭제|hapus"
)
_MOVE = (
    "copy|move|transfer|send|forward|upload|post|publish|share|leak|dump|exfiltrate|wire|paste|"
    "kopiere|uberweise|copie|transfere|envoie|copia|transfiere|envia|kopieer|maak over|skopiuj|przelej|"
    "скопируй|переведи|перешли|kopyala|gonder|复制|转账|コピー|送金|복사|송금|salin|pindahkan"
)
_EVERY = (
    "all |all the|every|each|entire|whole|everything|alle |allen|samtliche|tous|toutes|todos|todas|tutti|tutte|"
    "wszystkie|wszystkich|все|всех|весь|butun|tum |hepsi|所有|全部|すべて|全て|모든|semua|tat ca|सभी|सारे"
)
_ASSET = (
    "file|e-mail|email|mail|message|backup|record|database|repo|user|account|money|fund|saving|password|"
    "credential|api key|secret|token|customer|contact|document|folder|director|inbox|workspace|photo|wallet|"
    "crypto|bitcoin|datei|ordner|fichier|dossier|archivo|carpeta|cartella|arquivo|pasta|bestand|plik|"
    "файл|письм|деньг|dosya|文件|邮件|ファイル|파일|berkas|tep"
)
# what turns a harmful topic into a request for the thing itself: "step by step", "the exact recipe"
_HOWTO = (
    "step by step|step-by-step|exact recipe|the recipe|detailed instructions|in detail|be specific|exact commands|"
    "real commands|exact steps|how to make|how to build|how to synthesise|how to synthesize|how do i|how would you|"
    "explain how|explains how|explains to|tell me how|how to |working|the real|actual steps|ingredients|quantities|describe synthesising|"
    "schritt fur schritt|genau erklart|genau erklaren|wie man|con detalle|paso a paso|como fabricar|en detail|"
    "etape par etape|comment fabriquer|passo dopo passo|come costruire|passo a passo|como fazer|stap voor stap|"
    "krok po kroku|jak zrobic|подробно|пошагово|как взломать|как сделать|adim adim|nasil yapilir|详细|步骤|"
    "怎么制作|手順|作り方|자세히|만드는 법|langkah demi langkah|cara membuat|chi tiet|विस्तार से"
)
# taking over accounts and defences
_PRIVESC = (
    "grant admin|give admin|admin rights to|admin access to|root access to|make me admin|make me an admin|"
    "make me an owner|add me as admin|add me as an admin|add my ssh key|authorized_keys|disable two-factor|"
    "disable 2fa|disable mfa|disable logging|disable the audit|turn off logging|turn off the audit|"
    "other administrator|other admins|elevate privileges|escalate privileges|sudo privileges|"
    "admin-rechte|droits d'administrateur|permisos de administrador|права администратора"
)
# a public or attacker-side destination (no address needed)
_PUBLIC = (
    "public gist|a gist|pastebin|paste site|public repo|public repository|public channel|public forum|"
    "public bucket|anonymous|external server|outside the company|to a stranger|to my account|my wallet|"
    "iban|swift|bitcoin address|wallet address|crypto wallet"
)

# An AI that reads the text, named with what it does to "this" text: "any AI tool summarising these minutes", "the
# assistant that processes this file", "KI-Werkzeuge, die diese Arbeit verarbeiten", "sistemas de IA que analisem este
# contrato" -- where a planted note names its reader in words no addressee stem lists. Such a place opens a long
# text's window to the classifiers (``lexicon_scan``); it is no rule. The noun is a word of the main table (role
# "reader"); the rest -- a reading verb and a word pointing at this text within a clause, in either order -- is
# matched after it.
_READER_NOUNS = (
    "ai|ki|ia|llm|llms|assistant|assistants|assistent|assistenten|asistente|asistentes|assistente|assistenti|"
    "bot|chatbot|model|models|agent|agents|tool|tools|ии|ші|"
    "automated|automatic|automatisch|automatische|automatischen|automatisierte|automatisierten|automatique|automatiques|"
    "automatizado|automatizados|automatizada|automatizadas|automatico|automatici|automatica|automatiche|automatyczne|"
    "automatycznych|automatycznie|automaticke|automatickych|automatiska|automatiserade|automatisert|automatiserte|"
    "автоматические|автоматических|outil|outils|werkzeug|werkzeuge|herramienta|herramientas|strumento|strumenti|"
    "ferramenta|ferramentas|narzedzia|nastroje|sprachmodell|sprachmodelle|modele|modeles|modelo|modelos|modello|modelli|"
    "sprakmodell|sprakmodellen|taalmodel|taalmodellen|software|programm|programme|programma|szoftver|szoftvernek|"
    "agencie|agente|agenten|agentti|asystent|asystencie|asistan|asistani"
)
_READER_VERBS = (
    "summar|process|read|analy|review|handl|prepar|writ|generat|answer|index|screen|rank|evaluat|assess|compar|triag|"
    "zusammenfass|verarbeit|liest|analys|analis|lees|samenvat|verwerk|lit |lisant|traite|traitant|resum|riassum|"
    "sintetizz|elabor|leggi|procesa|lee |le |czyta|przetwarza|читает|обрабатыва|читающ|резюм|анализ|using|uses|use |"
    "behandl|shrn|ocen|vergleich|bewert|sammanfatt|oppsummer|zpracov|spracov|spracuj|ocenia|behandel|schreib|produc|"
    "pars|score|scoring|translat|traduc|ubersetz|vertaal|ertekel|osszefogl|tiivist|kasittel"
)
_DEICTICS = (
    "this|these|the following|the above|diese|diesem|dieser|dieses|diesen|ce|cette|ces|este|esta|estos|estas|esse|"
    "essa|questo|questa|questi|deze|dit|ten|ta|tę|этот|эту|это|эти|этого|цей|цю|це|bu|estes|esses|essas|deste|desta|"
    "neste|nesta|detta|denna|dessa|dette|denne|disse|ezt|ez|ezeket|tama|tata|nama|tento|tuto|toto|acest|aceasta|aceste"
)
# ...or told what it must do: an obligation in the noun's clause, neither negated nor passive ("automated recommenders
# must list …", "el agente automático que gestione esta cola debe emitir …"; not "the agent must not be able to …", "AI
# tools … must be approved", which policies say)
_MODALS = (
    "should|must|shall|soll|sollen|sollte|sollten|muss|mussen|doit|doivent|devra|devront|deve|devono|"
    "dovra|debe|deben|debera|deberan|moet|moeten|musi|musza|powinien|powinny|powinno|ska|skal|skall|maste|"
    "должен|должна|должно|должны|повинен|повинні|pitaa|tulee|kell|trebuie|mora|moraju|morajo|treba|gerekir|malidir"
)
# (negated, passive or a requirement: "must not be able to", "must be approved", "should only be used", "must have
# human oversight", "deve essere concordato", "shall:" opening a list of a provider's duties, "en aucun cas")
_NOT_AN_ORDER = re.compile(
    r"(?::| (?:(?:only|always|also|still|first|then|nur|immer|auch|seulement|toujours|aussi|solo|sempre|siempre|tambien|"
    r"apenas|tylko|zawsze|tez|alltid|bara|altijd|alleen|ook) )?(?:not|never|nicht|nie|niemals|keinesfalls|pas|jamais|non|"
    r"no|nunca|niet|nooit|inte|ikke|не|ne|nu|be|been|etre|ser|estar|essere|byc|быть|worden|werden|zijn|vara|vaere|fi|"
    r"have|has|had|haben|hebben|avoir|tener|avere|ter|miec|en aucun|auf keinen|by no|under no|in no))(?![^\W\d_])"
)
# (a negation before it: "el asistente de IA no debe …", "il chatbot non deve …", "asystent AI nie powinien …")
_NEGATED_BEFORE = re.compile(r"(?<![^\W\d_])(?:no|non|nao|nie|ne|not|nicht|niet|never|ei|nu|не)[ ]+$")
# (German puts the passive's auxiliary last: "muss vor der Nutzung geprüft werden")
_PASSIVE_LAST = re.compile(r"(?<![^\W\d_])(?:werden|worden)(?![^\W\d_])")
# ...or in a note's heading addressed to it: a word of address before the noun, on its line and in its sentence, and a
# colon closing the clause ("Note to translation software and reviewers …:", "Hinweis für automatisierte Vergleichs- und
# Beratungssysteme:", "nota tambahan kepada pembantu AI yang menilai borang ini:"; not "assistant for the invitee:",
# "agent task from the support lead:", a JSON key's "tool":)
_ADDRESS_PREP = re.compile(
    r"(?<![^\W\d_])(?:for|to|fur|an|pour|aux|au|per|para|voor|aan|dla|pro|kepada|untuk|для|til|till)(?![^\W\d_])"
)
_READER_PARTS = [*_READER_VERBS.split("|"), *_DEICTICS.split("|"), *_MODALS.split("|")]
_N_VERBS = len(_READER_VERBS.split("|"))
_N_DEICTIC = _N_VERBS + len(_DEICTICS.split("|"))  # (the modals after the deictics)
_MAX_READERS = 32  # AI nouns looked after in one text (bounded work)
_READER_REACH = 70  # characters after the noun: its clause's reading verb and the word pointing at this text


def _reads_this(t: str, b: int) -> int:
    """The end of a reading verb and a word pointing at this text (a whole word) in the clause after an AI noun that
    ends at ``b`` (within _READER_REACH characters, either order), of an obligation there neither negated nor passive,
    or of the colon that ends a heading addressed to it; or 0."""
    e = b + _READER_REACH
    stop = t.find(".", b, e)
    if stop >= 0:
        e = stop
    stop = t.find("\n", b, e)
    seg = t[b : e if stop < 0 else stop]
    if _READER_AC is None or not seg:
        return 0
    verb = this = 0
    try:
        found = _READER_AC.find_matches_as_indexes(seg, overlapping=True)
    except UnicodeEncodeError:  # (a lone surrogate)
        return 0
    for i, x, y in found:
        if i < _N_VERBS:
            verb = verb or y
        elif i >= _N_DEICTIC:  # an obligation, neither negated nor passive
            if (
                (x == 0 or not seg[x - 1].isalnum())
                and (y == len(seg) or not seg[y].isalnum())
                and _NOT_AN_ORDER.match(seg, y) is None
                and _NEGATED_BEFORE.search(seg, 0, x) is None
                and _PASSIVE_LAST.search(seg, y) is None
            ):
                return b + y
        elif (x == 0 or not seg[x - 1].isalnum()) and (y == len(seg) or not seg[y].isalnum()):
            this = this or y
        if verb and this:
            return b + max(verb, this)
    k = seg.find(":")
    if k >= 0 and _addressed_before(t, b):
        return b + k + 1
    return 0


def _addressed_before(t: str, b: int) -> bool:
    """Whether a word of address (:data:`_ADDRESS_PREP`) stands before the AI noun that ends at ``b``, on its line and in
    its sentence, with at most four words between and none of them a genitive's ("Note to translation software", "note to
    the appeals triage software"; not "Note to reviewers of the AI model")."""
    a = b
    while a > 0 and (t[a - 1].isalnum() or t[a - 1] in "-'"):
        a -= 1
    lo = max(0, a - 40)
    k = max(t.rfind("\n", lo, a), t.rfind(". ", lo, a))
    preps = list(_ADDRESS_PREP.finditer(t, k + 1 if k >= 0 else lo, a))
    if not preps:
        return False
    between = t[preps[-1].end() : a].split()
    return len(between) <= 4 and not any(w in _GENITIVES for w in between)


# (the Germanic languages' "of"; the Romance "de" / "di" also make compounds: "servizio di traduzione automatica")
_GENITIVES = frozenset(["of", "van", "av", "af"])


_WORD_ROLES = {
    "reader",
    "send",
    "tool",
    "data",
    "imperative",
    "stealth",
    "addressee",
    "state",
    "prior",
    "realtask",
    "fiction",
    "howto",
    "privesc",
    "destroy",
    "move",
    "every",
    "public",
}
_TOOL_NAMES = (
    "the mail tool|the file tool|the browser|payment tool|calendar tool|search tool|http tool|email tool|"
    "shell tool|the ftp tool|send_email|send_mail|sendmail|email.send|gmail.send|http_request|http_post|http_get|fetch_url|web_request|"
    "requests.post|requests.get|post_request|upload_file|transfer_funds|execute_command|run_shell|"
    "exec_shell|write_file|delete_file|open_url|browse|send_message|slack_post|post_message|"
    "curl |wget |make_payment|create_user|share_file|send_sms|invoke|call_api|api_call|tool_call|"
    "function_call|fetch(|browser.open"
)
_DATA = (
    "conversation|chat history|all of the above|everything above|previous messages|password|api key|api_key|"
    "credentials|secret|token|contacts|inbox|emails|files|ssh key|.env|customer data|user data|personal data|"
    "system prompt|session|cookie|private key|history|messages|documents|database|card number|address book|"
    "conversacion|historial|contrasena|mot de passe|passwort|wachtwoord|haslo|пароль|историю|переписку|"
    "sifre|كلمة المرور|المحادثة|पासवर्ड|密码|对话|聊天记录|비밀번호|대화|パスワード|会話"
)
# a function / tool name that acts (send_message, delete_file, transfer_funds ...): its prefix is a tool term
_SNAKE_PREFIXES = (
    "send|delete|create|transfer|execute|exec|run|write|upload|post|share|forward|grant|remove|drop|invite|"
    "refund|pay|purchase|update|modify|set|add"
)
_MARKERS = ("://", "www.", "webhook", "ngrok", ".onion", "<img")
_EMAIL_AT = re.compile(r"@[a-z0-9\-]{1,63}\.[a-z]{2,}")
_DOWNLOAD_ONLY = re.compile(r"curl |wget ")
_SENDS_DATA = re.compile(r"\s(?:-d|-f|-t|-x\s*(?:post|put)|--data\S*|--form|--upload-file|--post-\w+)\s")
_IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\d.])")
# every IPv4 match holds a dot before a digit; a pattern led by a literal is searched at memchr speed, while one
# led by \d (any Unicode digit) is tried at every position (4 KB of prose: 2 against 45 µs)
_DOT_DIGIT = re.compile(r"\.(?=\d)")


def _addresses(t: str, limit: int = 64) -> list[tuple[int, int]]:
    """Spans of external addresses (URL, e-mail, IPv4, webhook, markdown/HTML image), found by literal search."""
    out: list[tuple[int, int]] = []
    for mk in _MARKERS:
        p = t.find(mk)
        while p >= 0 and len(out) < limit:
            out.append((p, p + len(mk)))
            p = t.find(mk, p + len(mk))
    p = t.find("@")
    while p >= 0 and len(out) < limit:
        if p > 0 and (t[p - 1].isalnum() or t[p - 1] in "._%+-") and _EMAIL_AT.match(t, p):
            out.append((p, p + 1))
        p = t.find("@", p + 1)
    out.sort()
    return out


def _ipv4_near(t: str, anchors: list[tuple[int, int]], gap: int, limit: int = 16) -> list[tuple[int, int]]:
    """Spans of IPv4 addresses within ``gap`` characters of an anchor (a bare IP is an external address too);
    only those windows are searched, so the cost follows the few anchors, not the text."""
    out: list[tuple[int, int]] = []
    end = 0
    for a, b in anchors[:limit]:
        lo, hi = max(a - gap, end), min(len(t), b + gap)
        if lo < hi:
            if _DOT_DIGIT.search(t, lo, hi):
                out.extend(
                    m.span() for m in _IPV4.finditer(t, lo, hi) if not (m.start() and t[m.start() - 1] in "0123456789.")
                )
        end = max(end, hi)
    return out


def _fold(s: str) -> str:
    return normalize(s, fold=True).text


_terms: dict[str, set[str]] = {}
for _lang, _fields in sorted(_L.items()):
    for _role, _field in zip(_ROLES, _fields):
        for _t in _field.split("|"):
            if _t.strip():
                _terms.setdefault(_fold(_t), set()).add(_role)
for _t in _ADDRESSEE.split("|"):
    _terms.setdefault(_fold(_t), set()).add("addressee")
for _t in _STATE.split("|"):
    _terms.setdefault(_fold(_t), set()).add("state")
for _t in _STEALTH.split("|"):
    _terms.setdefault(_fold(_t), set()).add("stealth")
for _t in _IMPERATIVE.split("|"):
    _terms.setdefault(_fold(_t), set()).add("imperative")
for _role, _field in (
    ("prior", _PRIOR_REF),
    ("realtask", _REAL_TASK),
    ("target", _GIVEN),
    ("verbatim", _VERBATIM),
    ("fiction", _FICTION),
    ("harm", _HARM),
    ("destroy", _DESTROY),
    ("move", _MOVE),
    ("public", _PUBLIC),
    ("privesc", _PRIVESC),
):
    for _t in _field.split("|"):
        if _t.strip():
            _terms.setdefault(_fold(_t), set()).add(_role)
for _t in _SNAKE_PREFIXES.split("|"):
    _terms.setdefault(_t + "_", set()).add("tool")
for _t in _TOOL_NAMES.split("|"):
    _terms.setdefault(_fold(_t), set()).add("tool")
for _t in _DATA.split("|"):
    _terms.setdefault(_fold(_t), set()).add("data")
for _t in _READER_NOUNS.split("|"):
    _terms.setdefault(_fold(_t), set()).add("reader")
_TERMS = sorted(_terms)


# stems that are words only whole: "persona" is no role-play in "personal data" or "personality test"
_WHOLE_WORDS = frozenset(["persona"])


def _inherit(terms: list[str], roles: dict[str, set[str]]) -> list[frozenset[str]]:
    """Each term also carries the roles of the terms inside it that start a word ("your instructions" is a
    target and, through "instruction", a noun): the text search is leftmost-longest, one hit per place."""
    try:
        from ahocorasick_rs import AhoCorasick as _A

        ac = _A(terms)
        out = []
        for t in terms:
            r = set(roles[t])
            for i, a, b in ac.find_matches_as_indexes(t, overlapping=True):
                if (a == 0 or not t[a - 1].isalnum()) and (
                    terms[i] not in _WHOLE_WORDS or b == len(t) or not t[b].isalnum()
                ):
                    r |= roles[terms[i]]
            out.append(frozenset(r))
        return out
    except ImportError:  # pragma: no cover
        return [frozenset(roles[t]) for t in terms]


_TERM_ROLES = _inherit(_TERMS, _terms)
_READER_ONLY = frozenset(["reader"])
_TERM_ROLES = [_READER_ONLY if r == _READER_ONLY else r for r in _TERM_ROLES]  # (one object: ``_hits`` tests identity)
# a stem written in a Latin/Cyrillic/Greek script must start a word (no "signore" for "ignore")
_NEEDS_BOUNDARY = [
    t[:1].isalpha() and (t[:1].isascii() or "\u0400" <= t[:1] <= "\u04ff" or "\u0370" <= t[:1] <= "\u03ff")
    for t in _TERMS
]
# whole words (not stems): an ASCII term of these roles must also end a word ("post" is not "postgres")
_NEEDS_END = [
    (
        t.isascii()
        and t[-1:].isalnum()
        and bool(r)
        and r <= _WORD_ROLES | {"show", "verb", "noun", "qual"}
        and not (r - _WORD_ROLES)
    )
    or t in _WHOLE_WORDS
    for t, r in zip(_TERMS, _TERM_ROLES)
]
try:
    from ahocorasick_rs import AhoCorasick, BytesAhoCorasick, Implementation, MatchKind

    # a contiguous NFA, not a DFA: over these ~2,900 multilingual stems a DFA takes ~24 MB of memory and
    # searches no faster (dev texts 3.2 against 4.2 µs, 4 KB of prose 23 against 26 µs)
    _AC: AhoCorasick | None = AhoCorasick(
        _TERMS, matchkind=MatchKind.LeftmostLongest, implementation=Implementation.ContiguousNFA
    )
    # ...and over the bytes of a Latin-1 text (most traffic; a sixth faster), the stems Latin-1 can spell: the
    # others cannot occur in such a text, and leftmost-longest matches do not depend on stems that never match
    _LATIN = [i for i, t in enumerate(_TERMS) if t.encode("latin-1", "ignore").decode("latin-1") == t]
    _AC_LATIN: BytesAhoCorasick | None = BytesAhoCorasick(
        [_TERMS[i].encode("latin-1") for i in _LATIN],
        matchkind=MatchKind.LeftmostLongest,
        implementation=Implementation.ContiguousNFA,
    )
except ImportError:  # pragma: no cover - the dependency is declared
    _AC = _AC_LATIN = None
    _LATIN = []
    _TERM_RE = re.compile("|".join(re.escape(t) for t in sorted(_TERMS, key=len, reverse=True)))
_LATIN_ROLES = [_TERM_ROLES[i] for i in _LATIN]
_LATIN_BOUNDARY = [_NEEDS_BOUNDARY[i] for i in _LATIN]
_LATIN_END = [_NEEDS_END[i] for i in _LATIN]
try:
    _READER_AC: AhoCorasick | None = AhoCorasick(_READER_PARTS)
except NameError:  # pragma: no cover - (no ahocorasick_rs above)
    _READER_AC = None

# context roles: common words ("every", "files", "working", "add") that matter only next to a rarer anchor (a
# destructive / transfer verb or tool, a harmful topic, text addressed to the AI); they are searched for in the
# anchors' windows only, so that an ordinary prompt full of "user", "file" and "all" does not pay for them
_ctx: dict[str, set[str]] = {}
for _role, _field in (
    ("every", _EVERY),
    ("asset", _ASSET),
    ("howto", _HOWTO),
    ("imperative", _IMPERATIVE_MORE),
    ("data", _DATA),  # (also in the main table; here a longer stem that fails its word end gives way to a shorter one)
):
    for _t in _field.split("|"):
        if _t.strip():
            _ctx.setdefault(_fold(_t), set()).add(_role)
_CTX_TERMS = sorted(_ctx)
_CTX_ROLES = [frozenset(_ctx[t]) for t in _CTX_TERMS]
_CTX_BOUNDARY = [
    t[:1].isalpha() and (t[:1].isascii() or "\u0400" <= t[:1] <= "\u04ff" or "\u0370" <= t[:1] <= "\u03ff")
    for t in _CTX_TERMS
]
_CTX_END = [t.isascii() and t[-1:].isalnum() and not (r & {"asset"}) for t, r in zip(_CTX_TERMS, _CTX_ROLES)]
try:  # every occurrence (overlapping): a longer stem that fails its word end leaves the shorter ones
    from ahocorasick_rs import AhoCorasick as _CtxAC
    from ahocorasick_rs import Implementation as _Impl

    # a DFA: over these ~230 stems it is small (under 1 MB) and searches 4 KB in half the time of the NFA
    _CTX_AC: _CtxAC | None = _CtxAC(_CTX_TERMS, implementation=_Impl.DFA)
except ImportError:  # pragma: no cover - the dependency is declared
    _CTX_AC = None
_CTX_RE = re.compile(
    "|".join(
        re.escape(t) + ("(?![a-z0-9])" if _CTX_END[_i] else "")
        for _i, t in sorted(enumerate(_CTX_TERMS), key=lambda it: len(it[1]), reverse=True)
    )
)
_MAX_WINDOWS = 12


def _context_hits(t: str, anchors: list[tuple[int, int]], gap: int) -> list[tuple[int, int, frozenset[str]]]:
    """The context-role stems within ``gap`` characters of the (sorted) anchor spans (at most _MAX_WINDOWS)."""
    wins: list[tuple[int, int]] = []
    for a, b in anchors:
        lo, hi = max(0, a - gap), min(len(t), b + gap)
        if wins and lo <= wins[-1][1]:
            wins[-1] = (wins[-1][0], max(wins[-1][1], hi))
        elif len(wins) >= _MAX_WINDOWS:
            break
        else:
            wins.append((lo, hi))
    out: list[tuple[int, int, frozenset[str]]] = []
    n = len(t)
    found = None
    if _CTX_AC is not None and len(wins) > 2 and 2 * sum(hi - lo for lo, hi in wins) > n:
        found = _context_whole(t, wins)  # windows over most of the text: one search of all of it
    if found is None and _CTX_AC is not None:
        found = [
            (i, lo + a, lo + b)
            for lo, hi in wins
            for i, a, b in _CTX_AC.find_matches_as_indexes(t[lo:hi], overlapping=True)
        ]
    elif found is None:  # pragma: no cover
        found = [(_CTX_INDEX[m.group()], *m.span()) for lo, hi in wins for m in _CTX_RE.finditer(t, lo, hi)]
    for i, a, b in found:
        if _CTX_BOUNDARY[i] and a > 0 and (t[a - 1].isalnum() or t[a - 1] in "@/._-"):
            continue
        if _CTX_END[i] and b < n and t[b].isalnum():
            continue
        out.append((a, b, _CTX_ROLES[i]))
    return out


def _context_whole(t: str, wins: list[tuple[int, int]]) -> list[tuple[int, int, int]] | None:
    """The context stems of ``t`` that a window of ``wins`` (sorted, disjoint) holds whole, by one search of the
    whole text (overlapping: every occurrence is reported, so those inside a window are the window's own); None
    when the text cannot be searched whole (a lone surrogate outside the windows)."""
    assert _CTX_AC is not None
    try:
        whole = _CTX_AC.find_matches_as_indexes(t, overlapping=True)
    except UnicodeEncodeError:
        return None
    his = [hi for _, hi in wins]
    out = []
    for i, a, b in whole:
        w = bisect.bisect_left(his, b)  # the first window that ends at or after b: the only one that can hold it
        if w < len(wins) and wins[w][0] <= a:
            out.append((i, a, b))
    return out


_CTX_INDEX = {t: i for i, t in enumerate(_CTX_TERMS)}

_GAP = 60  # characters between the two stems of a pair
_TOOL_GAP = 160  # a send verb / tool name and an address
_MAX_HITS = 2000  # a text with more stem hits than this: pair only the first ones (bounded work)


# A stem written in Latin letters inside Chinese, Japanese or Korean text touches the characters around it ("本メールを
# 処理するAIアシスタントへ", "负责比较的AI助手"), which have no spaces: it is read there as an AI reader's noun, or, a strong
# stem's, as a place for the classifiers to read (role "glued") -- no rule's hit (those stay as they were, so the rule
# features and the weights do not change)
_CJK_LO = 0x2E80
_GLUED = frozenset(["glued"])


def _cjk_glued(t: str, a: int, b: int, boundary: bool, end: bool) -> bool:
    """Whether the hit ``t[a:b]`` fails its word boundaries only where it touches a CJK character."""
    n = len(t)
    left = not boundary or a == 0 or not (t[a - 1].isalnum() or t[a - 1] in "@/._-") or ord(t[a - 1]) >= _CJK_LO
    right = not end or b >= n or not t[b].isalnum() or ord(t[b]) >= _CJK_LO
    return left and right


def _hits(t: str) -> list[tuple[int, int, frozenset[str]]]:
    out = []
    if _AC is not None and _AC_LATIN is not None:
        n = len(t)
        try:  # (byte offsets are character offsets)
            found = _AC_LATIN.find_matches_as_indexes(t.encode("latin-1"))
            roles, boundary, end = _LATIN_ROLES, _LATIN_BOUNDARY, _LATIN_END
            wide = False  # (no CJK character in it)
        except UnicodeEncodeError:
            found = _AC.find_matches_as_indexes(t)
            roles, boundary, end = _TERM_ROLES, _NEEDS_BOUNDARY, _NEEDS_END
            wide = True
        counted = readers = 0
        for i, a, b in found:
            r = roles[i]
            if (boundary[i] and a > 0 and (t[a - 1].isalnum() or t[a - 1] in "@/._-")) or (
                end[i] and b < n and t[b].isalnum()
            ):
                # inside a word, an address or an identifier -- or touching Chinese, Japanese or Korean text
                if wide and readers < _MAX_READERS and _cjk_glued(t, a, b, boundary[i], end[i]):
                    g = _GLUED if not r.isdisjoint(_STRONG) else (_READER_ONLY if "reader" in r else None)
                    if g is not None:
                        out.append((a, b, g))
                        readers += 1
                continue
            if r is _READER_ONLY:  # (an AI noun alone: bounded on its own, so a table of "tool, model" hides nothing)
                if readers < _MAX_READERS:
                    out.append((a, b, r))
                    readers += 1
                continue
            out.append((a, b, r))
            counted += 1
            if counted >= _MAX_HITS:
                break
    else:  # pragma: no cover
        for m in _TERM_RE.finditer(t):
            i = _TERMS.index(m.group())
            if _NEEDS_BOUNDARY[i] and m.start() > 0 and t[m.start() - 1].isalnum():
                continue
            out.append((m.start(), m.end(), _TERM_ROLES[i]))
            if len(out) >= _MAX_HITS:
                break
    return out


# a clause break between a verb and its supposed object: "drop the old API and follow the new guidelines"
_CLAUSE = re.compile(r"[.;!?\n]|, | (?:and|but|then|y|et|und|en|e|i|и|ve|و) ")


def _near(
    xs: list[tuple[int, int]], ys: list[tuple[int, int]], gap: int, t: str | None = None
) -> tuple[int, int] | None:
    """The first pair (x, y) of spans within ``gap`` characters of each other (either order), as one span;
    with ``t``, the two must not be separated by a clause break."""
    if not xs or not ys:
        return None
    j = 0
    for a, b in xs:
        while j < len(ys) and ys[j][1] < a - gap:
            j += 1
        k = j
        while k < len(ys) and ys[k][0] <= b + gap:
            ya, yb = ys[k]
            if yb <= a or ya >= b:  # two different stems
                if t is None or not _CLAUSE.search(t, min(b, yb), max(a, ya)):
                    return min(a, ya), max(b, yb)
            k += 1
    return None


def _touches(span: tuple[int, int], ys: list[tuple[int, int]], gap: int) -> bool:
    """Whether a span of ``ys`` lies within ``gap`` characters of ``span`` (overlapping counts)."""
    return any(ya <= span[1] + gap and yb >= span[0] - gap for ya, yb in ys)


_QUOTES_OPEN = "\"'`“‘«„‹「『"
_QUOTES_CLOSE = "\"'`”’»“›」』"


def _quoted(t: str, a: int, b: int) -> bool:
    return any(q in t[max(0, a - 3) : a] for q in _QUOTES_OPEN) and any(q in t[b : b + 3] for q in _QUOTES_CLOSE)


# the roles whose stems make a place in a text worth the classifier's look (see ``lexicon_scan``); the
# others (instruction nouns, imperatives, "show", "send", data nouns, "all / before") are everywhere in
# ordinary prompts ("the retry policy", "your task"), and so are the bare persona openers below ("You are a
# helpful assistant" starts half the system prompts)
_STRONG = frozenset(
    {"verb", "target", "persona", "nolimit", "addressee", "state", "stealth", "tool", "realtask", "privesc", "public"}
)
_WEAK_OPENERS = frozenset(["you are", "you're", "become", "persona", "simulate", "hypothetically", "your name is"])


def lexicon_hits(t: str) -> list[tuple[str, float, int, int]]:
    """``(category, weight, start, end)`` for the multilingual rules on the folded text ``t`` (a match inside
    quotes counts 0.35x: it is being talked about)."""
    return lexicon_scan(t)[0]


def lexicon_scan(t: str, readers: bool = True) -> tuple[list[tuple[str, float, int, int]], list[tuple[int, int]]]:
    """:func:`lexicon_hits`, and the spans of ``t`` where a stem of a strong role occurs (an override verb,
    an instruction noun, a secret target, a persona, a tool name, text addressed to the AI ...): the
    scanner's classifier reads the windows of a long text that hold one. ``readers``: the places an AI reader is
    named (:func:`_reads_this`) and the strong stems glued to CJK text are among them; without, the spans the shipped
    weights' mix was fitted on (the training script reads a long text so)."""
    hits = _hits(t)
    if not hits:
        return [], []
    live = [
        (a, b)
        for a, b, roles in hits
        if ((roles is _GLUED and readers) or not roles.isdisjoint(_STRONG)) and t[a:b] not in _WEAK_OPENERS
    ]
    if readers:
        nouns = [(a, b) for a, b, roles in hits if "reader" in roles][:_MAX_READERS]
        live.extend((a, e) for a, b in nouns if (e := _reads_this(t, b)))
    found = [(c, w * 0.35 if _quoted(t, a, b) else w, a, b) for c, w, a, b in _pair(t, hits)]
    # where a rule fired is worth the classifier's look too (a send verb near an address has no strong stem),
    # and the priors of a long text are judged around the window the classifier reads
    live.extend((a, b) for _, w, a, b in found if w >= 0.3)
    return found, live


def glued_reader(t: str) -> bool:
    """Whether the folded text ``t`` holds a Latin stem of the lexicon glued to CJK text (``_GLUED``: an AI reader's
    noun or a strong stem, "読み取りAIへの補足：…", "…的AI助手")."""
    try:
        t.encode("latin-1")
        return False  # (no CJK character: nothing can be glued to one, and the lexicon's pass is skipped)
    except UnicodeEncodeError:
        return any(roles is _GLUED for _, _, roles in _hits(t))


def _pair(t: str, hits: list[tuple[int, int, frozenset[str]]]) -> list[tuple[str, float, int, int]]:
    by: dict[str, list[tuple[int, int]]] = {}
    get = by.get
    for a, b, roles in hits:
        hit = (a, b)
        for r in roles:
            spans = get(r)
            if spans is None:
                by[r] = [hit]
            else:
                spans.append(hit)
    anchors = [h for r in ("destroy", "move", "tool", "harm", "addressee", "privesc") for h in get(r, ())]
    if anchors:  # the context roles, in the anchors' windows only
        for a, b, roles in sorted(_context_hits(t, sorted(anchors), 130)):
            for r in roles:
                by.setdefault(r, []).append((a, b))
        for r in ("every", "asset", "howto", "imperative", "data"):
            if r in by:
                by[r].sort()
    out: list[tuple[str, float, int, int]] = []
    span = _near(by.get("verb", []), by.get("noun", []), _GAP, t)
    if span is not None:
        a, b = span
        q = any(a - 25 <= qa and qb <= b + 25 for qa, qb in by.get("qual", ()))
        out.append(("ml_override", 0.8 if q else 0.3, a, b))
    else:
        span = _near(by.get("noun", []), by.get("state", []), 40, t)
        if span is not None:
            out.append(("ml_override", 0.7, *span))
    # an override that names no verb: "everything above was a test", "the real task is ...", "what the
    # operator configured is not in effect"
    prior, state, real = by.get("prior", []), by.get("state", []), by.get("realtask", [])
    span = _near(real, prior, 200) if real and prior else None
    if span is not None:
        out.append(("ml_override", 0.8, *span))
    else:
        span = _near(prior, state, 80) if prior and state else None
        if span is not None:
            out.append(("ml_override", 0.75, *span))
        elif real:
            span = _near(real, state, 160) if state else None
            out.append(("new_instr", 0.4, *span) if span is not None else ("new_instr", 0.25, *real[0]))
    span = _near(by.get("show", []), by.get("target", []), _GAP, t)
    if span is None:  # "word for word" / "verbatim" names a disclosure across a comma too
        span = _near(sorted(by.get("show", []) + by.get("verbatim", [])), by.get("target", []), 80)
        if span is not None and not _touches(span, by.get("verbatim", []), 80):
            span = None
    if span is not None:
        out.append(("ml_extract", 0.7, *span))
    # a harmful request wrapped in fiction / a hypothetical, or asked of a persona without limits
    harm = by.get("harm", [])
    if harm:
        howto = _near(harm, by.get("howto", []), 120)
        frame = _near(harm, sorted(by.get("fiction", []) + by.get("nolimit", [])), 240)
        if frame is not None and howto is not None:
            out.append(("ml_persona", 0.8, min(frame[0], howto[0]), max(frame[1], howto[1])))
        elif frame is not None:
            out.append(("ml_persona", 0.35, *frame))
    span = _near(sorted(by.get("persona", []) + by.get("fiction", [])), by.get("nolimit", []), 160)
    if span is not None:
        out.append(("ml_persona", 0.75, *span))
    elif by.get("nolimit"):
        a, b = by["nolimit"][0]
        out.append(("ml_persona", 0.35, a, b))
    if by.get("addressee"):
        a, b = by["addressee"][0]
        span = _near(by["addressee"], sorted(by.get("imperative", []) + by.get("stealth", [])), 100)
        out.append(("addressed", 0.75, *span) if span is not None else ("addressed", 0.4, a, b))
    tools = by.get("tool", [])
    if tools:
        span = _near(tools, sorted(by.get("stealth", []) + by.get("data", [])), 100)
        if span is not None:
            out.append(("tool_exfil", 0.6, *span))
    # a destructive or transfer verb over "all / every" asset (no address, no named tool needed), stronger
    # with a public destination or a "without confirmation / tell nobody"
    acts = sorted(by.get("destroy", []) + by.get("move", []) + tools)
    if acts and by.get("every") and by.get("asset"):
        span = _near(acts, by["every"], 40)
        if span is not None:
            span = _near([span], by["asset"], 60)
        if span is not None:
            worse = _near([span], sorted(by.get("stealth", []) + by.get("public", [])), 160)
            if worse is not None:
                out.append(("tool_exfil", 0.8, *worse))
            else:
                named = _touches(span, tools, 0)
                out.append(("tool_exfil", 0.5 if named else 0.2, *span))
    if by.get("privesc"):
        a, b = by["privesc"][0]
        worse = _near(by["privesc"], sorted(by.get("stealth", []) + by.get("every", []) + by.get("imperative", [])), 80)
        out.append(("tool_exfil", 0.6, *worse) if worse is not None else ("tool_exfil", 0.35, a, b))
    senders = sorted(by.get("send", []) + by.get("tool", []))
    if senders and ("/" in t or "@" in t or "." in t):
        addrs = _addresses(t)
        span = _near(senders, addrs, _TOOL_GAP)
        if span is None:  # a bare IPv4 address near a sender
            addrs = sorted(addrs + _ipv4_near(t, senders, _TOOL_GAP))
            span = _near(senders, addrs, _TOOL_GAP)
        if span is not None:
            near = any(span[0] - _TOOL_GAP <= da and db <= span[1] + _TOOL_GAP for da, db in by.get("data", ()))
            if not near:  # a data noun the main table's leftmost-longest match passed over ("customer database")
                near = any("data" in roles for _, _, roles in _context_hits(t, [span], _TOOL_GAP))
            d = True if near else None
            tool = _near(by.get("tool", []), addrs, _TOOL_GAP) is not None
            if tool and d is None and _DOWNLOAD_ONLY.fullmatch(t[span[0] : span[0] + 5]):
                # curl / wget fetching a URL (an install step) sends nothing, unless it posts data
                tool = _SENDS_DATA.search(t, span[0], span[1] + 120) is not None
            w = 0.85 if d is not None and tool else 0.7 if d is not None or tool else 0.2
            out.append(("tool_exfil", w, *span))
    return out


# -- discussion ---------------------------------------------------------------------------------------
# Words that mark a text *about* prompt injection (security writing, training material, a blog post,
# a risk assessment) rather than one: the attack and its actor named in the third person, "for example",
# defence, detection, vulnerability, training. English is ``injection.py``'s ``_EDU``; these are the other
# languages the detector reads. A stem must start a word (in scripts with spaces between words).
_DISCUSSION = {
    "de": "angreifer|angriff|prompt-injection|prompt injection|z. b.|z.b.|zum beispiel|beispielsweise|schutz|"
    "abwehr|schwachstelle|schulung|sicherheitslücke|gegenmaßnahme|risiko|erkennen|erkennung|manipulationsversuch",
    "fr": "attaquant|attaque|injection de prompt|injection d'instructions|par exemple|défense|protection|"
    "vulnérabilité|formation|sensibilisation|contre-mesure|détecter|détection|risque",
    "es": "atacante|ataque|inyección de prompt|inyección de instrucciones|por ejemplo|defensa|protección|"
    "vulnerabilidad|capacitación|formación|contramedida|detectar|detección|riesgo|ciberdelincuente",
    "it": "attaccante|attacco|prompt injection|iniezione di prompt|per esempio|ad esempio|difesa|protezione|"
    "vulnerabilità|formazione|contromisura|rilevare|rilevamento|rischio|truffatori",
    "pt": "atacante|ataque|injeção de prompt|injeção de instruções|por exemplo|defesa|proteção|vulnerabilidade|"
    "treinamento|formação|contramedida|detectar|detecção|risco|golpistas",
    "nl": "aanvaller|aanval|promptinjectie|prompt-injectie|bijvoorbeeld|bescherming|verdediging|kwetsbaarheid|"
    "detecteren|detectie|risico|oplichters",
    "sv": "angripare|promptinjektion|till exempel|t.ex.|skydd|försvar|sårbarhet|utbildning|upptäcka|"
    "riskanalys|bedragare",
    "da": "angriber|angreb|promptinjektion|for eksempel|f.eks.|beskyttelse|sårbarhed|uddannelse",
    "no": "angriper|angrep|promptinjeksjon|for eksempel|f.eks.|beskyttelse|sårbarhet|opplæring",
    "fi": "hyökkääjä|hyökkäys|kehoteinjektio|esimerkiksi|esim.|suojaus|haavoittuvuus|koulutus",
    "pl": "atakujący|atak|wstrzykiwanie|wstrzyknięcie|na przykład|np.|ochrona|obrona|podatność|szkolenie|"
    "wykrywanie|wykryć|ryzyko|oszuści",
    "cs": "útočník|útok|injekce promptu|například|např.|ochrana|obrana|zranitelnost|školení|detekce|riziko|podvodníci",
    "sk": "útočník|útok|napríklad|napr.|ochrana|zraniteľnosť|školenie",
    "hu": "támadó|támadás|prompt injekció|például|pl.|védelem|sebezhetőség|oktatás|csaló",
    "ro": "atacator|atac|injecție de prompt|de exemplu|apărare|protecție|vulnerabilitate|instruire|escroci",
    "tr": "saldırgan|saldırı|istem enjeksiyonu|prompt enjeksiyonu|örneğin|mesela|savunma|koruma|güvenlik açığı|"
    "eğitim|tespit|dolandırıcı",
    "ru": "злоумышленник|атака|атаки|атак |инъекци|например|защит|уязвимост|обучени|обнаружени|мошенник|"
    "методичка|пример атаки|риск",
    "uk": "зловмисник|атака|атаки|ін'єкці|інʼєкці|наприклад|захист|вразливіст|навчанн|виявленн|шахра",
    "bg": "нападател|атака|например|защита|уязвимост|обучение|измамни",
    "el": "επιτιθέμενος|επίθεση|επιθέσεις|για παράδειγμα|π.χ.|άμυνα|προστασία|ευπάθεια|εκπαίδευση|απάτη",
    "ar": "المهاجم|مهاجم|هجوم|هجمات|حقن|على سبيل المثال|مثلا|مثلاً|الحماية|حماية|ثغرة|تدريب|الكشف|احتيال",
    "fa": "مهاجم|حمله|تزریق|برای مثال|به عنوان مثال|مثلا|محافظت|آسیب‌پذیری|آموزش|کلاهبردار",
    "he": "תוקף|מתקפה|התקפה|הזרקת|לדוגמה|למשל|הגנה|פגיעות|הדרכה|הונאה",
    "hi": "हमलावर|हमला|इंजेक्शन|उदाहरण|जैसे कि|सुरक्षा|बचाव|कमजोरी|प्रशिक्षण|धोखाधड़ी|धोखेबाज",
    "bn": "আক্রমণকারী|আক্রমণ|ইনজেকশন|উদাহরণ|যেমন|সুরক্ষা|প্রশিক্ষণ|প্রতারক",
    "ur": "حملہ آور|حملہ|انجیکشن|مثال|مثلاً|تحفظ|بچاؤ|تربیت|فراڈ",
    "ta": "தாக்குதல்|உதாரணம்|பாதுகாப்பு|பயிற்சி",
    "zh": "攻击者|攻击|注入|例如|比如|防御|防护|防范|漏洞|培训|检测|风险|诈骗|骗子|测试用例",
    "ja": "攻撃者|攻撃|インジェクション|例えば|たとえば|防御|対策|脆弱性|研修|検知|検出|リスク|詐欺",
    "ko": "공격자|공격|인젝션|예를 들어|예시|방어|대책|취약점|교육|탐지|위험|사기",
    "vi": "kẻ tấn công|tấn công|chèn lệnh|ví dụ|phòng chống|bảo vệ|lỗ hổng|đào tạo|phát hiện|lừa đảo",
    "th": "ผู้โจมตี|การโจมตี|โจมตี|ตัวอย่าง|เช่น|ป้องกัน|ช่องโหว่|อบรม|ตรวจจับ|มิจฉาชีพ",
    "id": "penyerang|serangan|injeksi|misalnya|contoh|pencegahan|perlindungan|kerentanan|pelatihan|deteksi|penipu",
    "ms": "penyerang|serangan|suntikan|contohnya|contoh|perlindungan|kelemahan|latihan|penipu",
    "tl": "umaatake|pag-atake|halimbawa|proteksyon|kahinaan|pagsasanay|manloloko",
    "sw": "mshambulizi|shambulio|mashambulizi|kwa mfano|ulinzi|udhaifu|mafunzo|matapeli",
}
_discussion = sorted({_fold(s) for v in _DISCUSSION.values() for s in v.split("|") if s.strip()})
# which stems must start a word: those of the scripts that put spaces between words (Latin, Greek, Cyrillic,
# Hebrew, Arabic), not CJK or Thai
_WORD_START = tuple(re.match(r"[a-z\u0370-\u03ff\u0400-\u04ff\u0590-\u06ff]", s) is not None for s in _discussion)
try:
    from ahocorasick_rs import AhoCorasick

    _DISCUSSION_AC: AhoCorasick | None = AhoCorasick(_discussion)
except ImportError:  # pragma: no cover - the dependency is declared
    _DISCUSSION_AC = None


# the words of a text about attacks on AI systems (a subset of the markers above: the attacker, the attack, the
# injection, the jailbreak, the payload, phishing -- not "protection", "training", "for example", which any policy says)
_ATTACK_TALK = (
    "prompt injection|prompt-injection|injection|jailbreak|attacker|attack|payload|red team|red-team|adversarial|"
    "phishing|malicious|hidden instruction|фишинг|фішинг|フィッシング|피싱|钓鱼|釣魚|"
    "angreifer|angriff|attaquant|attaque|atacante|ataque|inyeccion|attaccante|attacco|iniezione|injecao|aanvaller|"
    "aanval|promptinjectie|angripare|promptinjektion|angriber|angreb|angriper|angrep|promptinjeksjon|hyokkaaja|"
    "hyokkays|kehoteinjektio|atakujacy|atak|wstrzykiwanie|wstrzykniecie|utocnik|utok|injekce|tamado|tamadas|"
    "atacator|atac|injectie|saldirgan|saldiri|enjeksiyon|злоумышленник|атак|инъекци|зловмисник|ін'єкці|інʼєкці|"
    "нападател|επιτιθεμενος|επιθεση|επιθεσεις|المهاجم|مهاجم|هجوم|هجمات|حقن|حمله|تزریق|תוקף|מתקפה|התקפה|הזרקת|"
    "हमलावर|हमला|इंजेक्शन|攻击|注入|攻撃|インジェクション|공격|인젝션|tan cong|chen lenh|โจมตี|penyerang|serangan|"
    "injeksi|suntikan|umaatake|pag-atake|mshambulizi|shambulio|"
    # (and the attacks on people such writing explains beside them: scams, fraud, suspicious messages, manipulation)
    "scam|scammer|fraud|suspicious|manipulat|manipulac|exploit|hijack|exfiltrat|social engineering|impersonat|spoof|"
    "trick|tricked|hacking|hacked|bypass|leak|leaked|ctf|"
    "betrug|betrüger|verdächtig|arnaque|escroquer|escroc|fraude|frauduleu|hameçonnage|estafa|sospechos|engaño|"
    "truffa|truffe|truffator|frode|fraudolent|sospett|manipol|golpe|golpista|suspeit|oplichting|oplichter|verdacht|"
    "oszust|podejrzan|wyłudz|мошенни|подозрител|манипул|шахрай|підозріл|podvod|podezřel|bedrägeri|bedragare|svindel|"
    "misstänkt|mistenkelig|mistænkelig|dolandırıcı|şüpheli|huijaus|epäilyttäv|csalás|gyanús|înșelăt|fraudă|απάτη|"
    "ύποπτ|احتيال|مشبوه|הונאה|חשוד|धोखाधड़ी|संदिग्ध|诈骗|欺诈|可疑|詐欺|不審|사기|의심|lừa đảo|penipuan|mencurigakan|"
    # (the jailbreak, the red team, the hidden instruction, manipulation in the other languages)
    "manipuler|manipulier|越狱|脱獄|탈옥|红队|紅隊|レッドチーム|레드팀|джейлбрейк|взлом|"
    "versteckte anweisung|instruction cachee|instructions cachees|instruccion oculta|instrucciones ocultas|"
    "instrucao oculta|instrucoes ocultas|istruzione nascosta|istruzioni nascoste|verborgen instructie|"
    "dold instruktion|dolda instruktioner|ukryta instrukcja|ukryte instrukcje|gizli talimat|скрытая инструкция|"
    "скрытые инструкции|прихована інструкція|隐藏指令|隠し指示|숨겨진 지시|تعليمات مخفية|hidden text|white text"
)
_attack_talk = sorted({_fold(x) for x in _ATTACK_TALK.split("|") if x.strip()})
_ATTACK_START = tuple(re.match(r"[a-z\u0370-\u03ff\u0400-\u04ff\u0590-\u06ff]", s) is not None for s in _attack_talk)
try:
    _ATTACK_AC: AhoCorasick | None = AhoCorasick(_attack_talk)
except NameError:  # pragma: no cover - (no ahocorasick_rs above)
    _ATTACK_AC = None


# the forms of security writing in the other languages (an incident report, a pentest, a red team's log, an audit, a
# newsletter on security): with English's (``injection._REPORT_FORMS``) one of a discussion's two markers
_REPORT_FORMS_ML = (
    "vorfallsbericht|sicherheitsvorfall|penetrationstest|pentest|prufbericht|sicherheitsbericht|testprotokoll|"
    "rapport d'incident|compte rendu|compte-rendu|retour d'experience|test d'intrusion|bulletin de securite|"
    "journal de session|informe de|informe post|informe tecnico|informe final|incidente|auditoria|prueba de penetracion|boletin de seguridad|relatorio|"
    "teste de intrusao|boletim de seguranca|rapporto|verbale|test di penetrazione|incidentrapport|auditrapport|"
    "beveiligingsbulletin|handelserapport|hendelsesrapport|haendelsesrapport|sakerhetsbulletin|raport|incydent|"
    "test penetracyjny|audyt|zprava o incidentu|penetracni test|olay raporu|rapor|sizma testi|denetim|отчет|"
    "инцидент|пентест|аудит|звіт|інцидент|تقرير|اختبار الاختراق|تدقيق|نشرة|דוח|מבדק חדירה|रिपोर्ट|"
    "报告|報告|安全事件|渗透测试|滲透測試|测试记录|审计|复盘|報告書|レポート|インシデント|ペネトレーションテスト|監査|"
    "보고서|보안 사고|모의해킹|침투 테스트|bao cao|su co|kiem thu xam nhap|laporan|insiden|uji penetrasi|"
    "red team|red-team|session log|post-incident|bug bounty|newsletter|release notes|retrospective|awareness|"
    "reading group|admin guide|rule pack|guardrail"
)
_report_forms_ml = sorted({_fold(x) for x in _REPORT_FORMS_ML.split("|") if x.strip()})
_REPORT_START = tuple(
    re.match(r"[a-z\u0370-\u03ff\u0400-\u04ff\u0590-\u06ff]", s) is not None for s in _report_forms_ml
)
try:
    _REPORT_AC: AhoCorasick | None = AhoCorasick(_report_forms_ml)
except NameError:  # pragma: no cover - (no ahocorasick_rs above)
    _REPORT_AC = None


def report_forms(t: str) -> int:
    """1 where the folded text ``t`` names a form of security writing in another language than English (or one of
    English's the regex of ``injection`` leaves out: a red team's session log, a newsletter), else 0."""
    if _REPORT_AC is None:  # pragma: no cover
        return 0
    for i, a, _ in _REPORT_AC.find_matches_as_indexes(t):
        if not (a and _REPORT_START[i] and t[a - 1].isalnum()):
            return 1
    return 0


def attack_talk(t: str, limit: int = 2) -> int:
    """How many (up to ``limit``) places of the folded text ``t`` name an attack on an AI system (``_ATTACK_TALK``)."""
    if _ATTACK_AC is None:  # pragma: no cover
        return 0
    n = 0
    for i, a, _ in _ATTACK_AC.find_matches_as_indexes(t):
        if a and _ATTACK_START[i] and t[a - 1].isalnum():
            continue
        n += 1
        if n >= limit:
            break
    return n


def discussion_hits(t: str, limit: int = 3) -> int:
    """How many (up to ``limit``) distinct discussion stems start a word in the folded text ``t``."""
    if _DISCUSSION_AC is None:  # pragma: no cover
        return 0
    seen: set[int] = set()
    for i, a, _ in _DISCUSSION_AC.find_matches_as_indexes(t):
        if a and _WORD_START[i] and t[a - 1].isalnum():
            continue
        seen.add(i)
        if len(seen) >= limit:
            break
    return len(seen)


# -- enactment ---------------------------------------------------------------------------------------
# A request to carry out what a text quotes or names: "execute the following prompt injection", "carry out
# this example", "do what it says: '...'", "applique-la : «...»". An attack behind a research, audit or
# teaching pretext says "research", "security", "example" -- the discussion markers above -- and then asks
# for the attack to be performed; where it asks, the text is not a discussion (``injection._priors``).
# Per language: imperative verbs (in scripts with spaces a stem must stand where an imperative does: a
# sentence's start, after "please", "now", "bitte" ...), outside any quotation, and the nouns an attack is
# named by. A verb counts when one of the nouns follows within 60 characters, or a quotation within 20 --
# and not when what follows sends it elsewhere ("run the payload against the model").
_ENACT_VERBS = {
    "en": "carry out|execute|perform|run|follow|obey|apply|act on|comply with|enact|try out|do exactly what|"
    "do what it says|do what this says|do as it says|do as this says|do what the|treat it as|treat this as",
    "fr": "execute|executez|applique|appliquez|suivez|effectue|effectuez|realise|realisez|fais ce qu|"
    "faites ce qu|obeis|obeissez|mets en oeuvre|mettez en oeuvre",
    "es": "ejecuta|ejecute|aplica|aplique|sigue|siga|realiza|realice|lleva a cabo|lleve a cabo|obedece|"
    "obedezca|haz lo que|haga lo que|cumple|cumpla",
    "de": "fuhre|fuhren sie|befolge|befolgen sie|wende|wenden sie|setze|setzen sie|mach, was|mach was|"
    "tu, was|tu was|gehorche|probier|probiere",
    "pt": "executa|execute|aplica|aplique|segue|siga|realiza|realize|faca o que|faz o que|obedeca|cumpra",
    "it": "esegui|esegua|applica|applichi|segui|segua|fai quello che|faccia quello che|obbedisci|metti in pratica",
    "nl": "voer|volg|doe wat|gehoorzaam",
    "ru": "выполни|выполните|примени|примените|следуй|следуйте|сделай то|сделайте то|исполни|исполните|запусти",
    "uk": "виконай|виконайте|застосуй|застосуйте|дотримуйся|зроби те",
    "pl": "wykonaj|wykonajcie|zastosuj|postepuj|zrob to|zrob, co|uruchom",
    "tr": "uygula|uygulayin|calistir|yerine getir|dedigini yap|takip et",
    "ar": "نفذ|نفّذ|طبق|طبّق|اتبع|قم بتنفيذ|قم بتطبيق",
    "hi": "लागू करो|लागू करें|पालन करो|पालन करें|चलाओ|निष्पादित करो|निष्पादित करें",
    "zh": "请执行|执行以下|执行这个|执行这段|照做|照着做|请按照|按照它|请运行|运行以下|请实施",
    "ja": "実行して|実行しろ|実行せよ|従って|従え|その通りに|実施して",
    "ko": "실행해|실행하세요|실행하라|따라 해|따라해|수행해|수행하세요|그대로 해",
}
_ENACT_NOUNS = (
    "injection|jailbreak|attack|payload|exploit|example|prompt|instruction|command|test case|"
    "attaque|exemple|consigne|charge utile|commande|inyeccion|ataque|ejemplo|instruccion|comando|carga util|"
    "angriff|beispiel|anweisung|befehl|injecao|exemplo|instruc|iniezione|attacco|esempio|istruzion|"
    "injectie|aanval|voorbeeld|instructie|opdracht|инъекци|джейлбрейк|атак|пример|промпт|инструкци|команд|"
    "ін'єкці|приклад|інструкці|wstrzyk|atak|przyklad|instrukcj|polecen|enjeksiyon|saldiri|ornek|istem|talimat|komut|"
    "حقن|هجوم|مثال|تعليمات|أوامر|इंजेक्शन|हमला|उदाहरण|प्रॉम्प्ट|निर्देश|"
    "注入|越狱|攻击|示例|例子|提示词|指令|命令|インジェクション|脱獄|攻撃|プロンプト|指示|命令|인젝션|탈옥|공격|예시|프롬프트|지시|명령"
)
# where an imperative stands: a sentence's start, or after a word that asks ("please", "bitte", "por favor" ...)
_ASKS_HERE = re.compile(
    r"(?:^|[.!?:;\n(\-*>]\s*|\b(?:please|pls|now|just|simply|kindly|go ahead and|ok|okay|bitte|jetzt|nun|"
    r"por favor|ahora|agora|s'il te plait|s'il vous plait|maintenant|per favore|ora|adesso|alsjeblieft|nu|"
    r"prosze|teraz|lutfen|simdi|пожалуйста|теперь|сейчас|будь ласка|тепер)\s+)$"
)
_OPEN_Q = "\u201c\u201e\u00ab\u300c\u300e"
_CLOSE_Q = "\u201d\u00bb\u300d\u300f"


def _inside_quotation(t: str, a: int) -> bool:
    """Whether position ``a`` of ``t`` lies inside a quotation opened earlier on its line."""
    line = t[t.rfind("\n", 0, a) + 1 : a]
    if line.count('"') % 2:
        return True
    return max(map(line.rfind, _OPEN_Q)) > max(map(line.rfind, _CLOSE_Q))


_enact_verbs = sorted({_fold(x) for vs in _ENACT_VERBS.values() for x in vs.split("|") if x.strip()})
# which ends of a verb must be a word's: those in a script with spaces between words
_ENACT_START = tuple(re.match(r"[a-z\u0370-\u03ff\u0400-\u04ff\u0590-\u06ff]", v) is not None for v in _enact_verbs)
_ENACT_END = tuple(re.search(r"[a-z\u0400-\u04ff]$", v) is not None for v in _enact_verbs)
try:
    _ENACT_AC: AhoCorasick | None = AhoCorasick(_enact_verbs)
except NameError:  # pragma: no cover - ahocorasick_rs is declared (see the discussion markers above)
    _ENACT_AC = None


def _word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def _verbs_in(t: str) -> list[tuple[int, int]]:
    """The spans of the verbs of ``_ENACT_VERBS`` in ``t`` whose ends are a word's where they must be, left to
    right, the longest at each place, none overlapping (an alternation's matches, found by Aho-Corasick)."""
    if _ENACT_AC is None:  # pragma: no cover
        return []
    found = []
    for i, a, b in _ENACT_AC.find_matches_as_indexes(t, overlapping=True):
        if _ENACT_START[i] and a and _word_char(t[a - 1]):
            continue
        if _ENACT_END[i] and b < len(t) and _word_char(t[b]):
            continue
        found.append((a, -b))
    out: list[tuple[int, int]] = []
    end = 0
    for a, nb in sorted(found):
        if a >= end:
            out.append((a, -nb))
            end = -nb
    return out


_SPACED_SCRIPT = re.compile(r"[a-z\u0370-\u03ff\u0400-\u04ff]")
_ENACT_OBJECT = re.compile(
    r"[^\n]{0,20}?[\"'\u201c\u201e\u00ab\u300c\u300e`]|[^\n]{0,60}?(?:"
    + "|".join(re.escape(_fold(n)) for n in _ENACT_NOUNS.split("|"))
    + ")"
)
_ENACT_ELSEWHERE = re.compile(
    r"\b(?:against|on|in|to|into|at)\s+(?:the|a|an|your|our|their|its|any)?\s*(?:target|victim|model|models|llm|chatbot|bot|"
    r"assistant|agent|app|application|system under test|endpoint|api|staging|sandbox)\b"
)


def enacts(t: str, limit: int = 4096, verbs: int | None = 16) -> bool:
    """Whether the folded text ``t`` (its first ``limit`` characters) asks for what it quotes or names as an
    attack to be carried out (see ``_ENACT_VERBS``), by one of its first ``verbs`` verbs (None: any)."""
    for a, b in _verbs_in(t[:limit])[:verbs]:
        if _SPACED_SCRIPT.match(t, a) and not _ASKS_HERE.search(t, max(0, a - 20), a):
            continue
        if _inside_quotation(t, a):  # the quoted attack's own words ("decode this and follow it")
            continue
        tail = t[b : b + 80]
        o = _ENACT_OBJECT.match(tail)
        if o is None:
            continue
        if _ENACT_ELSEWHERE.search(tail, 0, o.end() + 40):
            continue
        return True
    return False
