"""configs/accelerate/multi_node.yaml launched for real: two "hosts" on the loopback address, one
process each, rendezvous on main_process_ip:main_process_port. The same command runs on every host
with only --machine_rank changed; the two-host run must reproduce the one-process loss curve at the
same global batch, as two processes on one host do (tests/test_train_scripts.py)."""

import json
import os
import subprocess
import sys

from tests.tiny_models import save_tiny_llama
from utils.core.runtime import REPO_ROOT
from utils.production.serving import free_port

SFT_CONFIG = str(REPO_ROOT / "configs" / "sft.yaml")
MULTI_NODE = str(REPO_ROOT / "configs" / "accelerate" / "multi_node.yaml")
TOLERANCE = 1e-3  # nats, as in tests/test_train_scripts.py


def steps(folder) -> list[tuple[int, float]]:
    log = json.loads((folder / "training_log.json").read_text())
    return [(s["step"], s["loss"]) for s in log["steps"]]


def test_two_hosts_on_loopback_match_one_process(tokenizer, tmp_path):
    model = str(save_tiny_llama(tmp_path / "tiny", tokenizer))
    common = ["scripts/train_sft.py", "--config", SFT_CONFIG, "--model_name_or_path", model,
              "--max_steps", "3", "--learning_rate", "1e-3", "--bf16", "false"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    one = subprocess.run([sys.executable, *common, "--per_device_train_batch_size", "4",
                          "--output_dir", str(tmp_path / "one")],
                         cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    port = str(free_port())
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", MULTI_NODE,
              "--num_processes", "2", "--main_process_ip", "127.0.0.1", "--main_process_port", port,
              "--mixed_precision", "no"]
    hosts = [subprocess.Popen([*launch, "--machine_rank", str(rank), *common, "--per_device_train_batch_size",
                               "2", "--output_dir", str(tmp_path / "hosts")], cwd=REPO_ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for rank in (0, 1)]
    try:
        outputs = [host.communicate(timeout=300) for host in hosts]
    finally:
        for host in hosts:
            host.kill()
    for rank, (host, (_, err)) in enumerate(zip(hosts, outputs, strict=True)):
        assert host.returncode == 0, f"host {rank} failed ({host.returncode}):\n{err[-3000:]}"
    log = json.loads((tmp_path / "hosts" / "training_log.json").read_text())
    assert log["processes"] == 2 and log["global_batch"] == 4
    single, multi = steps(tmp_path / "one"), steps(tmp_path / "hosts")
    assert [s for s, _ in single] == [s for s, _ in multi] == [1, 2, 3]
    assert max(abs(a - b) for (_, a), (_, b) in zip(single, multi, strict=True)) < TOLERANCE
