"""Loading the plugin costs no torch; the ``tasuki-scratch`` Auto classes still register on first use.

Each check runs in a fresh interpreter: in this one, other tests have imported everything already.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from transformers import AutoModelForSequenceClassification

from tasuki.registry import resolve_backbone


def python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_plugin_and_backbone_modules_import_neither_torch_nor_transformers() -> None:
    out = python(
        "import sys\n"
        "import tasuki_attention.plugin, tasuki_attention.backbone, tasuki_attention.cli\n"
        "print(sorted(m for m in ('torch', 'transformers', 'tasuki_attention.model') if m in sys.modules))\n"
    )
    assert out.strip() == "[]"


def test_saved_scratch_model_loads_with_auto_classes_once_the_plugin_is_loaded(tmp_path: Path, bert_dir: Path) -> None:
    spec = f"scratch:tokenizer={bert_dir},layers=2,hidden=32,heads=4,ffn=64,max_positions=64,seed=1"
    model = resolve_backbone(spec).build_model(AutoModelForSequenceClassification, num_labels=2)
    model.save_pretrained(tmp_path, safe_serialization=True)
    out = python(
        "import tasuki_attention.plugin  # what plugin discovery does; nothing imports the model module by hand\n"
        "from transformers import AutoModelForSequenceClassification\n"
        f"model = AutoModelForSequenceClassification.from_pretrained({str(tmp_path)!r}, use_safetensors=True)\n"
        "print(type(model).__name__)\n"
    )
    assert out.strip() == "ScratchForSequenceClassification"
