"""Bodies of the metadata routes: ``entityInformation``, ``/fields`` (with picklists) and
``/userDefinedFields``, shaped like the description's ``EntityInformationModel``,
``FieldInformationModel`` and ``Field``."""

from __future__ import annotations

from typing import Any

from psabridge.emulator.routes import RouteTable
from psabridge.emulator.schema import EntityDef
from psabridge.emulator.tenant import EmulatorTenant


def field_information(tenant: EmulatorTenant, edef: EntityDef) -> dict[str, Any]:
    """``/{Entity}/entityInformation/fields``: picklist ``value``s are string ids, as in Autotask."""
    fields = []
    for fdef in edef.fields.values():
        if fdef.kind == "udf":
            continue
        picklist = tenant.picklist(edef.name, fdef.name) if fdef.picklist else None
        fields.append(
            {
                "name": fdef.name,
                "dataType": fdef.data_type,
                "length": fdef.length,
                "isRequired": fdef.required,
                "isReadOnly": fdef.read_only,
                "isQueryable": True,
                "isReference": fdef.reference is not None,
                "referenceEntityType": tenant.defs[fdef.reference].singular if fdef.reference else "",
                "isPickList": fdef.picklist,
                "picklistValues": [dict(v) for v in picklist] if picklist is not None else None,
                "picklistParentValueField": "",
                "isSupportedWebhookField": False,
            }
        )
    return {"fields": fields}


def udf_information(tenant: EmulatorTenant, edef: EntityDef) -> dict[str, Any]:
    """``/{Entity}/entityInformation/userDefinedFields``: the active UDF definitions."""
    return {
        "fields": [
            {
                "name": u["name"],
                "label": u["name"],
                "type": "string",
                "length": 1000,
                "description": u.get("description") or "",
                "isRequired": bool(u.get("isRequired")),
                "isReadOnly": False,
                "isQueryable": True,
                "isReference": False,
                "referenceEntityType": "",
                "isPickList": False,
                "picklistValues": None,
                "picklistParentValueField": "",
                "defaultValue": u.get("defaultValue"),
                "isSupportedWebhookField": False,
            }
            for u in tenant.udf_definitions(edef.name)
            if u.get("isActive", True)
        ]
    }


def entity_information(routes: RouteTable, edef: EntityDef) -> dict[str, Any]:
    """``/{Entity}/entityInformation``: what the description lets callers do with the entity."""
    verbs = routes.entity_verbs(edef.name)
    return {
        "info": {
            "name": edef.singular,
            "canCreate": "POST" in verbs,
            "canDelete": "DELETE" in verbs,
            "canQuery": "QUERY" in verbs,
            "canUpdate": "PATCH" in verbs or "PUT" in verbs,
            "hasUserDefinedFields": edef.has_udfs,
            "supportsWebhookCallouts": False,
        }
    }
