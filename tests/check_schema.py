"""Validate TOML profiles against the checked-in JSON Schema with Python's jsonschema.

This is an independent implementation of JSON Schema, so it catches a schema that only
k3sprov's own validator understands. Usage: check_schema.py SCHEMA PROFILE...
Prints one line per profile and exits 1 when any profile is invalid.
"""

import json
import sys
import tomllib

import jsonschema


def main() -> int:
    schema_path, *profiles = sys.argv[1:]
    with open(schema_path, encoding="utf-8") as handle:
        schema = json.load(handle)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)

    failed = False
    for path in profiles:
        with open(path, "rb") as handle:
            profile = tomllib.load(handle)
        errors = sorted(validator.iter_errors(profile), key=lambda error: list(error.path))
        if errors:
            failed = True
            for error in errors:
                location = "/".join(str(part) for part in error.path)
                print(f"{path}: invalid at /{location}: {error.message}")
        else:
            print(f"{path}: valid")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
