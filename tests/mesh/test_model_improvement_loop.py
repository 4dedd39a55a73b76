"""The model-improvement loop with the real SmolLM2 through the gateway, as docs/synthetic_data.md shows it: synthetic
data is generated, scored and filtered, the kept rows are appended to a registered dataset, and a short LoRA job reads
that dataset and completes with a checkpoint. The work stays tiny (one prompt, two candidates, a dozen tokens, two
training steps on one thread)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import json_format

from llama.common.v1 import jobs_pb2
from llama_mesh.checkpoints import default_checkpoint_root
from llama_mesh.client import LlamaMeshClient
from llama_mesh.launcher import LocalMesh
from tests.mesh.helpers import run_cli, start_training_mesh

DOCS = Path(__file__).resolve().parents[2] / "docs" / "synthetic_data.md"
SECTION = "## Generate → dataset → fine-tune"
SERVICES = {"gateway", "inference", "datasetio", "synthetic_data_generation", "post_training"}


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMesh]:
    local = start_training_mesh(tmp_path_factory.mktemp("improvement-loop"), SERVICES)
    yield local
    local.stop()


def _section() -> tuple[list[str], list[str]]:
    """The section's JSONL blocks (example.jsonl, then prompts.jsonl) and its `llama-mesh` commands."""
    text = DOCS.read_text().split(SECTION, 1)[1].split("\n## ", 1)[0]
    files = [block.split("```", 1)[0] for block in text.split("```jsonl\n")[1:]]
    commands = [line for block in text.split("```bash\n")[1:] for line in block.split("```", 1)[0].splitlines()
                if line.startswith("llama-mesh ")]  # fmt: skip
    return files, commands


def test_synthesized_rows_reach_a_dataset_that_a_lora_job_trains_on(mesh: LocalMesh, tmp_path: Path) -> None:
    files, commands = _section()
    assert len(files) == 2 and [command.split()[1:3] for command in commands] == [
        ["datasets", "register"], ["sdg", "generate"], ["post-training", "sft"], ["post-training", "artifacts"]
    ]  # fmt: skip
    (tmp_path / "example.jsonl").write_text(files[0])
    (tmp_path / "prompts.jsonl").write_text(files[1])
    outputs = []
    for command in commands:
        args = [str(tmp_path / arg) if arg.endswith(".jsonl") else arg for arg in shlex.split(command)[1:]]
        result = run_cli(mesh, *args, timeout=1800, columns=200)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        outputs.append(result.stdout)

    prompt = json.loads(files[1])["prompt"]
    generate = dict(zip(*[iter(shlex.split(commands[1])[3:])] * 2, strict=True))  # --option value pairs
    with LlamaMeshClient(mesh.gateway_address, timeout=600) as client:
        # The same request again, without the append: the same seed gives the same kept row.
        reply = client.synthetic_data.synthesize(
            [prompt], model=generate["--model"], num_candidates=int(generate["--num-candidates"]),
            filtering_function=generate["--filter"], k=int(generate["--k"]), seed=int(generate["--seed"]),
            max_tokens=int(generate["--max-tokens"]),
        )  # fmt: skip
        kept = [json_format.MessageToDict(row) for row in reply.synthetic_data]
        dataset_rows = list(client.datasetio.rows("loop-data"))
        job = client.post_training.get_job("loop-sft")
        checkpoints = client.post_training.artifacts("loop-sft").checkpoints

    assert len(kept) == 1 and len(reply.candidates) == 2
    conversation = [{"role": "user", "content": prompt}, {"role": "assistant", "content": kept[0]["response"]}]
    assert kept[0]["messages"] == kept[0]["dialog"] == conversation
    assert len(dataset_rows) == 2  # the written example, then the one kept candidate
    assert dataset_rows[1]["dialog"] == dataset_rows[1]["messages"] == kept[0]["messages"]

    assert job.job.status == jobs_pb2.JOB_STATUS_COMPLETED, job
    assert job.job.progress.done == job.job.progress.total == 2  # one step per row: the job read both rows
    assert len(checkpoints) == 1 and checkpoints[0].identifier == job.checkpoints[0].identifier
    directory = default_checkpoint_root(mesh.config.data_dir) / checkpoints[0].path  # relative to the root
    assert {"checkpoint.json", "adapter"} <= {path.name for path in directory.iterdir()}
    assert "loop-sft completed; checkpoint" in outputs[2] and checkpoints[0].identifier in outputs[3]
