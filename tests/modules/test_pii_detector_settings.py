"""pii-detector's settings name exactly the entity types the PII scanner knows."""

from typing import get_args

from leash_cli.modules.pii_detector import Entity, PiiDetector
from leash_cli.scanners.pii import PII_ENTITIES


def test_entity_literal_lists_the_scanners_entities() -> None:
    assert get_args(Entity) == PII_ENTITIES


def test_default_entities_are_all_of_them_and_fresh_per_settings() -> None:
    a, b = PiiDetector.Settings(), PiiDetector.Settings()
    assert a.entities == list(PII_ENTITIES)
    a.entities.pop()
    assert b.entities == list(PII_ENTITIES)
