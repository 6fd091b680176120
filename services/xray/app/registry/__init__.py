"""The model registry, by responsibility:

* ``errors``     -- what can go wrong, as data;
* ``storage``    -- the content-addressed blob store on disk (``ModelStore``);
* ``validation`` -- task specs and every check a candidate must pass before it is staged;
* ``repository`` -- queries for versions (flush only);
* ``service``    -- register, promote, roll back, seed the bundled models.

The serving side (what a replica loads from the active set) is ``app/runtime.py``, beside ``inference.py``.

Life of a version: upload or fine-tuning job -> validated -> ``staged`` -> promoted -> ``active`` (one per name)
-> ``retired`` when another version is promoted or it is rolled back.
"""
from .errors import (GoldenImageMissingError, InvalidModelNameError, MalformedRangeError, ModelBlobMissingError,
                     ModelDuplicateError, ModelGoldenCheckError, ModelInvalidError, ModelMetadataInvalidError,
                     ModelNotFoundError, ModelSignatureMismatchError, ModelTooLargeError, ModelVersionExistsError,
                     NothingToRollBackError, RangeNotSatisfiableError, UnknownTaskError)
from .repository import active_set, get_active, get_version, list_versions, lock_name
from .service import BundledModel, find_bundled, promote, register_candidate, rollback, seed_bundled
from .storage import ModelStore, TempBlob
from .validation import (ASSET_LIMIT, BUNDLED_ASSETS, TASKS, Candidate, TaskSpec, TensorSpec, check_name,
                         task_spec, validate_candidate)

__all__ = [
    "ASSET_LIMIT", "BUNDLED_ASSETS", "TASKS", "BundledModel", "Candidate", "GoldenImageMissingError",
    "InvalidModelNameError", "MalformedRangeError", "ModelBlobMissingError", "ModelDuplicateError",
    "ModelGoldenCheckError", "ModelInvalidError", "ModelMetadataInvalidError", "ModelNotFoundError",
    "ModelSignatureMismatchError", "ModelStore", "ModelTooLargeError", "ModelVersionExistsError",
    "NothingToRollBackError", "RangeNotSatisfiableError", "TaskSpec", "TempBlob", "TensorSpec", "UnknownTaskError",
    "active_set", "check_name", "find_bundled", "get_active", "get_version", "list_versions", "lock_name",
    "promote", "register_candidate", "rollback", "seed_bundled", "task_spec", "validate_candidate",
]
