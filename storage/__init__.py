"""Everything that touches the database: models, migrations, the repository."""

from openminutes.storage.errors import StorageUnavailableError
from openminutes.storage.records import (
    AmendmentRecord,
    Derived,
    ItemRecord,
    MeetingRecord,
    SeriesRecord,
)
from openminutes.storage.repository import LINE_CHUNK, Storage

__all__ = ["LINE_CHUNK", "AmendmentRecord", "Derived", "ItemRecord", "MeetingRecord",
           "SeriesRecord", "Storage", "StorageUnavailableError"]
