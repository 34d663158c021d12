"""The declaration file: what personal data is collected, why, for how long, and for whom.

Load a file written by a person with :func:`load_declarations` (or :func:`parse_declarations`
for text); both check it fully, fideslang taxonomy included, and raise
:class:`~tutela.domain.errors.DeclarationInvalid` listing every :class:`Problem`. Rebuild
declarations that were already checked (a JSON dump kept in the database) with
``Declarations.model_validate``, which does not load the taxonomy.
"""

from tutela.declarations.durations import Duration, parse_duration
from tutela.declarations.loading import (
    check_file,
    check_text,
    load_declarations,
    parse_declarations,
)
from tutela.declarations.models import (
    Category,
    Contact,
    Cookie,
    Dataset,
    Declarations,
    Extension,
    Organization,
    Policy,
    Purpose,
    Recipient,
    Retention,
    Storage,
    Taxonomy,
    Tenancy,
    Tenant,
    TenantBounds,
)
from tutela.declarations.problems import Problem
from tutela.declarations.schema import json_schema

__all__ = [
    "Category",
    "Contact",
    "Cookie",
    "Dataset",
    "Declarations",
    "Duration",
    "Extension",
    "Organization",
    "Policy",
    "Problem",
    "Purpose",
    "Recipient",
    "Retention",
    "Storage",
    "Taxonomy",
    "Tenancy",
    "Tenant",
    "TenantBounds",
    "check_file",
    "check_text",
    "json_schema",
    "load_declarations",
    "parse_declarations",
    "parse_duration",
]
