"""The helper scripts fail when they should."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _load(script: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(script, ROOT / "scripts" / f"{script}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _elf(machine: int) -> bytes:
    # 64-bit little-endian ELF header, enough for e_machine at offset 18.
    return b"\x7fELF\x02\x01\x01" + bytes(11) + machine.to_bytes(2, "little") + bytes(44)


def test_check_arch_accepts_aarch64_and_rejects_x86_64(tmp_path: Path) -> None:
    check_arch = _load("check_arch")
    (tmp_path / "ok.cpython-313-aarch64-linux-gnu.so").write_bytes(_elf(0xB7))
    assert check_arch.main([str(tmp_path)]) == 0

    (tmp_path / "libs").mkdir()
    (tmp_path / "libs" / "libbad.so.1").write_bytes(_elf(0x3E))
    assert check_arch.main([str(tmp_path)]) == 1


def test_check_arch_fails_on_an_empty_build(tmp_path: Path) -> None:
    assert _load("check_arch").main([str(tmp_path)]) == 1


def test_statelint_still_reports_real_problems(tmp_path: Path) -> None:
    broken = tmp_path / "broken.asl.json"
    broken.write_text(json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Missing"}}}))
    assert _load("statelint_asl").main([str(broken)]) == 1


def test_statelint_passes_the_state_machines() -> None:
    assert (
        _load("statelint_asl").main([str(p) for p in sorted((ROOT / "statemachine").glob("*.asl.json"))]) == 0
    )
