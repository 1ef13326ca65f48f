"""Everything that touches the database: models, migrations, the repository."""

from storage.errors import StorageUnavailableError
from storage.records import (
    Derived,
    ItemRecord,
    MeetingRecord,
    SeriesRecord,
)
from storage.repository import LINE_CHUNK, Storage

__all__ = ["LINE_CHUNK", "Derived", "ItemRecord", "MeetingRecord", "SeriesRecord", "Storage",
           "StorageUnavailableError"]
