"""GraphQL for lineage exports: the same documents as `dsa-registry export --format graphml …`."""

from __future__ import annotations

import datetime
from typing import Annotated, Optional

import strawberry

from registry import exports
from registry.api.enums import Direction, LineageFormat
from registry.api.errors import domain_errors


@strawberry.type
class ExportQuery:
    @strawberry.field(description="The lineage as a document for a drawing tool: from a system or party (`from`, "
                                  "`direction` default DOWNSTREAM, `depth`, `categories`, `asOf`, `includeProposed`, "
                                  "as `lineage`), or without `from` the whole registry on `asOf` (optionally only "
                                  "flows carrying data of `categories`). One string: GraphML, DOT, Mermaid or "
                                  "Cytoscape JSON.")
    @domain_errors
    async def lineage_export(self, info: strawberry.Info, format: LineageFormat,
                             from_: Annotated[Optional[strawberry.ID], strawberry.argument(name="from")] = None,
                             direction: Optional[Direction] = None, depth: Optional[int] = None,
                             categories: Optional[list[strawberry.ID]] = None,
                             as_of: Optional[datetime.date] = None, include_proposed: bool = False) -> str:
        context = info.context
        return await context.call(exports.export, context.registry, format.value, context.compliance.countries,
                                  start=from_, direction=direction.value if direction else None, depth=depth,
                                  categories=categories, as_of=as_of, include_proposed=include_proposed)
