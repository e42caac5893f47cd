"""configs/accelerate/*.yaml: each file loads as accelerate's own config class, passes the checks
`accelerate launch` runs before it starts anything, and agrees with the training configs."""

import pytest
import yaml
from accelerate.commands.config.config_args import ClusterConfig
from accelerate.commands.launch import _validate_launch_command, launch_command_parser
from accelerate.utils.constants import FSDP_AUTO_WRAP_POLICY, FSDP_STATE_DICT_TYPE
from transformers.models.llama import modeling_llama

from utils.core.runtime import REPO_ROOT

FOLDER = REPO_ROOT / "configs" / "accelerate"
EXPECTED = {"ddp.yaml": "MULTI_GPU", "fsdp.yaml": "FSDP", "deepspeed_zero2.yaml": "DEEPSPEED",
            "multi_node.yaml": "MULTI_GPU"}


def test_the_three_setups_are_there():
    assert sorted(p.name for p in FOLDER.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_config_passes_accelerate_launch_checks(name):
    path = FOLDER / name
    config = ClusterConfig.from_yaml_file(str(path))  # raises on unknown keys
    assert config.distributed_type.value == EXPECTED[name]
    machines = 2 if name == "multi_node.yaml" else 1
    assert config.num_processes >= 2 and config.num_machines == machines and config.mixed_precision == "bf16"
    args = launch_command_parser().parse_args(["--config_file", str(path), "scripts/train_sft.py"])
    args, _, _ = _validate_launch_command(args)
    assert (args.multi_gpu, args.use_fsdp, args.use_deepspeed) == (
        name in {"ddp.yaml", "multi_node.yaml"}, name == "fsdp.yaml", name == "deepspeed_zero2.yaml")
    assert "accelerate launch --config_file configs/accelerate/" + name in path.read_text()  # the command


def test_fsdp_wraps_the_models_decoder_layer():
    fsdp = ClusterConfig.from_yaml_file(str(FOLDER / "fsdp.yaml")).fsdp_config
    assert fsdp["fsdp_version"] == 2
    assert fsdp["fsdp_auto_wrap_policy"] in FSDP_AUTO_WRAP_POLICY
    assert fsdp["fsdp_state_dict_type"] in FSDP_STATE_DICT_TYPE
    assert hasattr(modeling_llama, fsdp["fsdp_transformer_layer_cls_to_wrap"])  # SmolLM2 is a Llama


def test_deepspeed_matches_the_training_config():
    zero = ClusterConfig.from_yaml_file(str(FOLDER / "deepspeed_zero2.yaml")).deepspeed_config
    sft = yaml.safe_load((REPO_ROOT / "configs" / "sft.yaml").read_text())
    assert zero["zero_stage"] == 2
    assert zero["gradient_accumulation_steps"] == sft["gradient_accumulation_steps"]
    assert zero["gradient_clipping"] == sft.get("max_grad_norm", 1.0)


def test_multi_node_config_names_its_rendezvous():
    config = ClusterConfig.from_yaml_file(str(FOLDER / "multi_node.yaml"))
    assert config.main_process_ip and config.main_process_port and config.rdzv_backend == "static"
    assert config.num_processes % config.num_machines == 0  # the same number of processes on each host
    text = (FOLDER / "multi_node.yaml").read_text()
    assert "--machine_rank 0" in text and "--machine_rank 1" in text and "--nnodes 2" in text
