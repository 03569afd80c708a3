"""Where each feature view's Parquet history lives, and whether its columns are what the registry says.

A history is one Parquet file (dbt-duckdb's `external`) or a folder of part files
(a Parquet table on Spark). A view whose file lacks a column, or holds one of
another type, is refused before anything is read, naming the model and column.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from feature_store.errors import DefinitionError, DefinitionErrors
from feature_store.registry.dtypes import list_element
from feature_store.registry.model import Entity, FeatureView, Registry


def parquet_files(location: str) -> str:
    """What read_parquet reads for a location: the file, or a folder's Parquet part files (a Spark
    table; its `_SUCCESS` and `.crc` files are left out)."""
    return os.path.join(location, "*.parquet") if os.path.isdir(location) else location


def part_files(location: str) -> list[Path]:
    """The Parquet files of a location: the file itself, or a folder's part files in name order."""
    path = Path(location)
    return sorted(path.glob("*.parquet")) if path.is_dir() else [path]


def parquet_schema(view: FeatureView) -> pa.Schema:
    """The schema of the view's Parquet (a folder's part files share one: Spark writes them so).

    Read from the footer with pyarrow.parquet: pyarrow.dataset would import pandas,
    a third of a second of every sync's start-up.
    """
    files = part_files(view.location)
    if not files:
        raise OSError(f"no Parquet part files in {view.location}")
    return pq.read_schema(files[0])


def arrow_type_matches(dtype: str, arrow_type: pa.DataType) -> bool:
    """Whether a Parquet column of `arrow_type` can hold a feature of `dtype` without loss."""
    element = list_element(dtype)
    if element is not None:
        is_list = pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type)
        return is_list and arrow_type_matches(element, arrow_type.value_type)
    if dtype == "int64":
        return pa.types.is_signed_integer(arrow_type) or arrow_type in (pa.uint8(), pa.uint16(), pa.uint32())
    if dtype == "float64":
        return pa.types.is_floating(arrow_type)
    if dtype == "bool":
        return pa.types.is_boolean(arrow_type)
    if dtype == "string":
        return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or (
            pa.types.is_string_view(arrow_type)
        )
    if dtype == "timestamp":
        return pa.types.is_timestamp(arrow_type)
    return False


def check_offline(registry: Registry, views: tuple[FeatureView, ...]) -> dict[str, pa.Schema]:
    """Check every view's Parquet file against its definition before anything is written.

    Returns the schemas by view; raises DefinitionErrors listing every problem.
    """
    errors: list[DefinitionError] = []
    schemas: dict[str, pa.Schema] = {}
    for view in views:
        entity = registry.entity(view.entity)
        if not Path(view.location).exists():
            errors.append(DefinitionError(
                view.name, f"its Parquet file {view.location} does not exist",
                f"run `dbt build --select {view.name}` to write it",
            ))
            continue
        try:
            schema = parquet_schema(view)
        except (OSError, pa.ArrowException) as error:
            errors.append(DefinitionError(
                view.name, f"its Parquet file {view.location} cannot be read ({error})",
                f"run `dbt build --select {view.name}` to rewrite it",
            ))
            continue
        errors.extend(_schema_errors(view, entity, schema))
        schemas[view.name] = schema
    if errors:
        raise DefinitionErrors(errors)
    return schemas


def _schema_errors(view: FeatureView, entity: Entity, schema: pa.Schema) -> list[DefinitionError]:
    errors = []
    rebuild = f"select that column in models/features/{view.name}.sql (and `dbt build`)"
    if len(entity.join_keys) > 1:
        errors.append(DefinitionError(view.name, f"entity '{entity.name}' has a composite key, which the "
                                      "online store does not serve yet", "use a single join key"))
    for key in entity.join_keys:
        if key not in schema.names:
            errors.append(DefinitionError(view.name, f"join key '{key}' of entity '{entity.name}' is not in "
                                          "the Parquet file", rebuild, key))
        elif not arrow_type_matches(entity.dtype, schema.field(key).type):
            errors.append(DefinitionError(view.name, f"join key is {schema.field(key).type}, but entity "
                                          f"'{entity.name}' declares dtype {entity.dtype}",
                                          "cast the key in the model or fix the entity's dtype", key))
    for column in filter(None, (view.timestamp, view.created_timestamp)):
        if column not in schema.names:
            errors.append(DefinitionError(view.name, "timestamp column is not in the Parquet file", rebuild,
                                          column))
        elif not pa.types.is_timestamp(schema.field(column).type):
            errors.append(DefinitionError(view.name, f"timestamp column is {schema.field(column).type}",
                                          "cast it to a timestamp in the model", column))
    for feature in view.features:
        if feature.name not in schema.names:
            errors.append(DefinitionError(view.name, "feature column is not in the Parquet file", rebuild,
                                          feature.name))
        elif not arrow_type_matches(feature.dtype, schema.field(feature.name).type):
            actual = schema.field(feature.name).type
            errors.append(DefinitionError(
                view.name, f"Parquet column is {actual}, which does not fit dtype '{feature.dtype}'",
                "cast the column in the model's SQL, or change its dtype in the YAML", feature.name,
            ))
    return errors
