"""tests/build_check.py finds what would not run on arm64 Lambda in a `sam build` output (make build-check)."""

from __future__ import annotations

from pathlib import Path

import pytest
from build_check import check, elf_machine, main


def _elf(machine: int, little: bool = True) -> bytes:
    """The first bytes of a 64-bit shared object (ET_DYN) for ``machine``."""
    order = "little" if little else "big"
    return (b"\x7fELF\x02" + (b"\x01" if little else b"\x02") + b"\x01" + b"\x00" * 9
            + (3).to_bytes(2, order) + machine.to_bytes(2, order) + b"\x00" * 44)


def _wheel(root: Path, dist: str, *tags: str) -> None:
    info = root / f"{dist}.dist-info"
    info.mkdir(parents=True)
    (info / "WHEEL").write_text("Wheel-Version: 1.0\nGenerator: bdist_wheel\nRoot-Is-Purelib: false\n"
                                + "".join(f"Tag: {t}\n" for t in tags))


@pytest.fixture()
def build(tmp_path: Path) -> Path:
    """A build like sam's for arm64: a layer with a compiled wheel and a pure one, and a function."""
    layer = tmp_path / "ConnectorLayer" / "python"
    (layer / "pydantic_core").mkdir(parents=True)
    (layer / "pydantic_core" / "_pydantic_core.cpython-311-aarch64-linux-gnu.so").write_bytes(_elf(183))
    _wheel(layer, "pydantic_core-2.46.4", "cp311-cp311-manylinux_2_17_aarch64", "cp311-cp311-manylinux2014_aarch64")
    _wheel(layer, "httpx-0.28.1", "py3-none-any")
    (layer / "httpx").mkdir()
    (layer / "httpx" / "__init__.py").write_text("")
    (tmp_path / "WebhookFunction").mkdir()
    (tmp_path / "WebhookFunction" / "app.py").write_text("")
    return tmp_path


def test_an_arm64_build_passes(build: Path) -> None:
    report = check(build, "arm64")
    assert report.problems == [] and (report.elf_files, report.wheels) == (1, 2)
    assert main([str(build)]) == 0


def test_an_x86_64_extension_is_found(build: Path) -> None:
    # Given pydantic-core's extension as pip on an x86_64 machine installs it, planted in the layer
    (build / "ConnectorLayer" / "python" / "pydantic_core" / "_pydantic_core.cpython-311-x86_64-linux-gnu.so"
     ).write_bytes(_elf(62))
    # Then the check names it, and fails
    [problem] = check(build, "arm64").problems
    assert problem == ("ConnectorLayer/python/pydantic_core/_pydantic_core.cpython-311-x86_64-linux-gnu.so: "
                       "compiled for x86_64, not aarch64")
    assert main([str(build)]) == 1


def test_an_elf_file_is_read_by_its_header_not_its_name(build: Path) -> None:
    (build / "WebhookFunction" / "helper").write_bytes(_elf(62))  # no .so suffix
    (build / "WebhookFunction" / "notes.so").write_bytes(b"not an ELF file")
    assert [p.split(":")[0] for p in check(build, "arm64").problems] == ["WebhookFunction/helper"]
    assert elf_machine(_elf(183, little=False)) == 183 and elf_machine(b"\x7fELF") is None


@pytest.mark.parametrize(("tags", "fits"), [
    (["py3-none-any"], True),
    (["py2.py3-none-any"], True),
    (["cp311-cp311-manylinux_2_28_aarch64"], True),
    (["cp38-abi3-manylinux_2_17_aarch64.manylinux2014_aarch64"], True),
    (["cp311-cp311-manylinux_2_17_x86_64"], False),
    (["cp311-cp311-manylinux_2_17_aarch64", "cp311-cp311-manylinux_2_17_x86_64"], False),
    (["cp312-cp312-manylinux_2_17_aarch64"], False),
    (["cp311-cp311-musllinux_1_2_aarch64"], False),
    (["cp311-cp311-macosx_11_0_arm64"], False),
    (["py3-none-linux_aarch64"], False),
    ([], False),
])
def test_every_wheel_tag_must_be_pure_or_manylinux_aarch64_for_cpython_311(
        build: Path, tags: list[str], fits: bool) -> None:
    _wheel(build / "OrderSyncFunction", "planted-1.0", *tags)
    problems = check(build, "arm64").problems
    assert problems == ([] if fits else [p for p in problems if p.startswith("OrderSyncFunction/planted-1.0")])
    assert bool(problems) is not fits


def test_an_empty_or_uncompiled_output_fails(tmp_path: Path, build: Path) -> None:
    assert main([str(tmp_path / "nowhere")]) == 1
    (build / "ConnectorLayer" / "python" / "pydantic_core" / "_pydantic_core.cpython-311-aarch64-linux-gnu.so"
     ).unlink()
    assert main([str(build)]) == 1  # nothing compiled: not what sam builds for this project
