"""One declaration per connector setting: the form, validation, "Still to choose", the demo and the docs
are derived from it, so none can forget a setting the others know."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from psabridge.connectors import forms, service
from psabridge.connectors.declarations import BY_NAME, SETTINGS, Kind
from psabridge.connectors.settings import AutotaskConnectorSettings
from psabridge.demo_steps import LABELS

REPO = Path(__file__).resolve().parents[2]


def test_every_settings_field_is_declared_once_and_every_declaration_is_a_field() -> None:
    fields = set(AutotaskConnectorSettings.model_fields) - {
        "contract_period_types"
    }  # shown with the frequencies
    assert {s.name for s in SETTINGS} == fields
    assert len(BY_NAME) == len(SETTINGS)


def test_form_validation_still_to_choose_and_demo_read_the_declarations() -> None:
    assert set(forms.YES_NO_FIELDS) == {s.name for s in SETTINGS if s.kind == Kind.YES_NO}
    assert set(forms.ID_FIELDS) == {s.name for s in SETTINGS if s.kind == Kind.CHOICE}
    assert {s.name: s.label for s in SETTINGS} == service.SETTING_LABELS
    blank = AutotaskConnectorSettings()
    required = {s.name for s in SETTINGS if s.required}
    assert set(blank.missing_required()) == required
    assert set(LABELS) == {s.name for s in SETTINGS if s.demo}


def test_the_settings_page_of_the_docs_is_current(tmp_path: Path) -> None:
    out = tmp_path / "settings.md"
    subprocess.run([sys.executable, str(REPO / "scripts" / "gen_settings_doc.py"), str(out)], check=True)
    assert out.read_text() == (REPO / "docs" / "connector-settings.md").read_text(), (
        "run scripts/gen_settings_doc.py"
    )
