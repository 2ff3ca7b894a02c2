# Chapter 07 notes: learning_notes/07_scaling/README.md#the-verl-bridge
"""The verl bridge: the reward hook scores as rewards.py does, and the overrides compose into a config that
verl 0.9.1 itself accepts (Hydra composition of its ppo_trainer.yaml, then its own validate_config)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from minimal_impl import verl_bridge
from minimal_impl.config import PRESET_DIR, build_config
from minimal_impl.data import DATA_SOURCES, gsm8k_row, nq_row
from minimal_impl.rewards import em_format_score, em_score, gsm8k_score
from minimal_impl.verl_reward import compute_score

ROOT = Path(__file__).resolve().parents[2]
PRESETS = sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))
OVERRIDE = re.compile(r"\+?[a-z_]+(\.[a-z_0-9]+)+=\S+")


# ---------------------------------------------------------------- (a) the reward hook


def test_compute_score_gsm8k_matches_rewards() -> None:
    for name in ("gsm8k", "sample-gsm8k"):
        row = gsm8k_row("2 + 70?", "2 + 70 = 72\n#### 72", "train", 0, DATA_SOURCES[name])
        source, truth = row["data_source"], row["reward_model"]["ground_truth"]
        for response, expected in [("so #### 72", 1.0), ("so #### 71", 0.0), ("the answer is 72", 0.0)]:
            assert compute_score(source, response, truth) == gsm8k_score(response, "72") == expected
        # flexible reads the last number; format_score rewards a wrong but extractable answer
        assert compute_score(source, "the answer is 72", truth, reward_fn="gsm8k_flexible") == 1.0
        assert compute_score(source, "so #### 71", truth, format_score=0.1) == gsm8k_score(
            "#### 71", "72", format_score=0.1
        )


def test_compute_score_qa_matches_rewards() -> None:
    for name in ("nq", "sample-nq"):
        row = nq_row("capital of france", ["Paris", "Paris, France"], "train", 0, DATA_SOURCES[name])
        source, truth = row["data_source"], row["reward_model"]["ground_truth"]
        as_read_by_verl = {"target": np.array(truth["target"], dtype=object)}  # parquet lists come back as arrays
        for response, expected in [
            ("<answer> the Paris </answer>", 1.0),
            ("<answer> Lyon </answer>", 0.0),
            ("Paris", 0.0),
        ]:
            assert compute_score(source, response, truth) == em_score(response, ["Paris", "Paris, France"]) == expected
            assert compute_score(source, response, as_read_by_verl) == expected
        valid = "<think> easy </think> <answer> Paris </answer>"
        assert compute_score(source, valid, truth, reward_fn="em_format") == em_format_score(valid, ["Paris"]) == 1.0
        assert compute_score(source, "<answer> Paris </answer>", truth, reward_fn="em_format") == pytest.approx(0.8)


def test_compute_score_reads_the_episode_texts_of_the_search_agent() -> None:
    """With SearchR1AgentLoop's episode in extra_info the hook scores what Task.score scores: EM the model's
    own turns, em_format the whole sequence; verl's solution_str (observations included) only without one."""
    truth = {"target": ["Paris"]}
    message = "\nMy previous action is invalid. ... between <answer> and </answer>. Let me try again.\n"
    solution_str = "<search> q </search>" + message + "I give up"  # what verl decodes: a fake answer "and"
    episode = {"model_text": "<search> q </search>I give up", "full_text": solution_str}
    assert compute_score("nq", solution_str, truth, format_score=0.1) == 0.1  # "and" is a wrong answer
    assert compute_score("nq", solution_str, truth, {"search_r1_episode": episode}, format_score=0.1) == 0.0
    valid = "<think> a </think> <search> q </search>\n\n<information>Doc 1(Title: Paris) x</information>\n\n"
    valid += "<think> b </think> <answer> Paris </answer>"
    episode = {"model_text": "<think> a </think> <search> q </search><think> b </think> <answer> Paris </answer>",
               "full_text": valid}  # fmt: skip
    assert compute_score("nq", "ignored", truth, {"search_r1_episode": episode}, reward_fn="em_format") == 1.0
    assert compute_score("nq", "ignored", truth, {"search_r1_episode": episode}) == 1.0


def test_compute_score_rejects_unknown_source_and_wrong_reward() -> None:
    with pytest.raises(ValueError, match="unknown data_source 'math500'"):
        compute_score("math500", "#### 1", "1")
    with pytest.raises(ValueError, match="does not score"):
        compute_score("openai/gsm8k", "#### 1", "1", reward_fn="em")
    with pytest.raises(ValueError, match="does not score"):
        compute_score("nq", "<answer> a </answer>", {"target": ["a"]}, reward_fn="gsm8k_strict")


# ---------------------------------------------------------------- (b) the overrides


@pytest.mark.parametrize("preset", PRESETS)
def test_overrides_are_well_formed(preset: str) -> None:
    overrides = verl_bridge.verl_overrides(build_config(preset))
    bad = [o for o in overrides if not OVERRIDE.fullmatch(o)]
    assert not bad, f"not key=value: {bad}"
    keys = [o.partition("=")[0] for o in overrides]
    assert len(keys) == len(set(keys)), "a key is set twice"


def test_overrides_of_the_gsm8k_preset_by_hand() -> None:
    """qwen2.5-0.5b_gsm8k.yaml, translated by hand (verl's names on the left)."""
    got = dict(o.split("=", 1) for o in verl_bridge.verl_overrides(build_config("qwen2.5-0.5b_gsm8k"), n_gpus=2))
    expected = {
        "algorithm.adv_estimator": "grpo",
        "algorithm.use_kl_in_reward": "false",
        "data.train_files": str(Path("data/prepared/gsm8k/train.parquet").resolve()),
        "data.val_files": str(Path("data/prepared/gsm8k/test.parquet").resolve()),
        "data.train_batch_size": "32",
        "data.max_prompt_length": "512",
        "data.max_response_length": "512",
        "actor_rollout_ref.model.path": "Qwen/Qwen2.5-0.5B-Instruct",
        "actor_rollout_ref.model.enable_gradient_checkpointing": "true",
        "actor_rollout_ref.rollout.name": "vllm",
        "actor_rollout_ref.rollout.n": "5",
        "actor_rollout_ref.rollout.temperature": "1.0",
        "actor_rollout_ref.actor.ppo_mini_batch_size": "16",
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu": "8",
        "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu": "8",
        "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu": "8",
        "actor_rollout_ref.actor.use_kl_loss": "true",
        "actor_rollout_ref.actor.kl_loss_coef": "0.001",
        "actor_rollout_ref.actor.kl_loss_type": "k3",
        "actor_rollout_ref.actor.optim.lr": "1e-06",
        "actor_rollout_ref.actor.clip_ratio_low": "0.2",
        "actor_rollout_ref.actor.clip_ratio_high": "0.2",
        "actor_rollout_ref.actor.loss_agg_mode": "token-mean",
        "critic.enable": "false",
        "reward.custom_reward_function.path": str(ROOT / "minimal_impl" / "verl_reward.py"),
        "reward.custom_reward_function.name": "compute_score",
        "trainer.nnodes": "1",
        "trainer.n_gpus_per_node": "2",
        "trainer.total_training_steps": "200",
        "trainer.logger": "[console]",
        "trainer.val_before_train": "true",
    }
    assert {k: got.get(k) for k in expected} == expected
    assert not any(k.startswith(("critic.model", "+reward", "actor_rollout_ref.model.lora")) for k in got)


def test_overrides_for_ppo_lora_and_the_search_task() -> None:
    config = build_config("tiny_sample_nq", ["adv_estimator=gae", "lora_rank=8", "reward_fn=em_format"])
    got = dict(o.split("=", 1) for o in verl_bridge.verl_overrides(config))
    assert got["critic.enable"] == "true" and got["critic.model.path"] == got["actor_rollout_ref.model.path"]
    assert (got["actor_rollout_ref.model.lora_rank"], got["actor_rollout_ref.model.target_modules"]) == (
        "8",
        "all-linear",
    )
    assert got["+reward.custom_reward_function.reward_kwargs.reward_fn"] == "em_format"
    assert got["actor_rollout_ref.rollout.agent.default_agent_loop"] == "search_r1_agent"
    notes = " ".join(verl_bridge.untranslated(config))
    assert "SearchR1AgentLoop" in notes and "warmup_sft_steps" in notes
    with pytest.raises(ValueError, match="multiple of n_gpus"):
        verl_bridge.verl_overrides(config, n_gpus=3)  # 4 prompts x 8 responses do not split over 3 GPUs
    with pytest.raises(ValueError, match="agent_loop='hermes'"):
        verl_bridge.verl_overrides(config, agent_loop="hermes")


def test_multi_turn_overrides_of_the_search_preset_by_hand(tmp_path: Path) -> None:
    """qwen2.5-0.5b_nq_search.yaml (max_turns 2, max_new_tokens 500, max_obs_tokens 500), by hand."""
    import yaml

    config = build_config("qwen2.5-0.5b_nq_search", [f"output_dir={tmp_path}"])
    got = dict(o.split("=", 1) for o in verl_bridge.verl_overrides(config))
    folder = tmp_path / "qwen2.5-0.5b_nq_search" / "verl"
    mt, agent = "actor_rollout_ref.rollout.multi_turn.", "actor_rollout_ref.rollout.agent."
    expected = {
        "data.max_response_length": "2500",  # 3 turns x 500 + 2 observations x 500: the whole episode
        mt + "enable": "true",
        mt + "format": "search_r1",
        mt + "max_assistant_turns": "3",  # max_turns + the answer-only turn
        mt + "max_user_turns": "2",
        mt + "max_parallel_calls": "1",
        mt + "tool_config_path": str(folder / "search_tool.yaml"),
        agent + "default_agent_loop": "search_r1_agent",
        agent + "agent_loop_config_path": str(folder / "agent_loop.yaml"),
    }
    assert {k: got.get(k) for k in expected} == expected
    assert mt + "max_tool_response_length" not in got  # search_r1_agent cuts observations in tokens itself
    files = {path.name: yaml.safe_load(text) for path, text in verl_bridge.agent_loop_files(config).items()}
    (tool,) = files["search_tool.yaml"]["tools"]
    assert tool["class_name"] == "minimal_impl.verl_search_tool.SearchTool"
    assert tool["config"] == {"type": "native", "retriever_url": "http://127.0.0.1:8000/retrieve", "corpus_path": "",
                              "topk": 3}  # fmt: skip
    assert tool["tool_schema"]["function"]["name"] == "search"
    assert files["agent_loop.yaml"] == [
        {"name": "search_r1_agent", "_target_": "minimal_impl.verl_agent_loop.SearchR1AgentLoop",
         "max_new_tokens": 500, "max_obs_tokens": 500}
    ]  # fmt: skip

    stock = dict(o.split("=", 1) for o in verl_bridge.verl_overrides(config, agent_loop="tool_agent"))
    assert stock[agent + "default_agent_loop"] == "tool_agent" and agent + "agent_loop_config_path" not in stock
    assert (stock[mt + "max_tool_response_length"], stock[mt + "tool_response_truncate_side"]) == ("2000", "right")
    assert list(verl_bridge.agent_loop_files(config, "tool_agent")) == [folder / "search_tool.yaml"]
    assert "chat template" in " ".join(verl_bridge.untranslated(config, "tool_agent"))


def test_search_tool_config_follows_the_retriever(tmp_path: Path) -> None:
    """In-process BM25 over the task's corpus without retriever_url; NQ (wiki-18) needs the service."""
    sample = build_config("tiny_sample_nq", [f"data_dir={tmp_path}"])
    settings = verl_bridge.tool_config(sample)["tools"][0]["config"]
    assert settings == {"type": "native", "retriever_url": "", "corpus_path": str(tmp_path / "sample-nq" / "corpus.jsonl"),
                        "topk": 1}  # fmt: skip
    with pytest.raises(ValueError, match="set retriever_url"):
        verl_bridge.verl_overrides(build_config("qwen2.5-0.5b_nq_search", ["retriever_url="]))
    assert verl_bridge.agent_loop_files(build_config("tiny_sample_gsm8k")) == {}  # single turn: no agent loop files


# ---------------------------------------------------------------- (c) verl's own config and checks

# every preset on one GPU, and variants for what the presets leave out (each composition costs ~0.8 s)
VARIANTS = [(preset, [], 1, "search_r1") for preset in PRESETS] + [
    ("qwen2.5-0.5b_gsm8k", ["reward_fn=gsm8k_flexible", "format_score=0.1", "clip_ratio_c=3.0", "kl_loss_type=k3+"], 8,
     "search_r1"),
    ("tiny_sample_gsm8k", ["adv_estimator=rloo", "use_kl_loss=false", "use_kl_in_reward=true", "kl_ctrl=adaptive"], 2,
     "search_r1"),
    ("qwen2.5-0.5b_nq_search", ["max_turns=4", "max_obs_tokens=300"], 2, "tool_agent"),
]  # fmt: skip


@pytest.fixture(scope="module")
def verl_compose():
    hydra = pytest.importorskip("hydra", reason="hydra-core is not installed (requirements-oracle.txt)")
    verl = pytest.importorskip("verl", reason="verl is not installed: the verl oracle is optional")
    config_dir = str(Path(verl.__file__).parent / "trainer" / "config")
    with hydra.initialize_config_dir(config_dir=config_dir, version_base=None):
        yield lambda overrides: hydra.compose(config_name="ppo_trainer", overrides=overrides)


@pytest.mark.parametrize(("preset", "extra", "n_gpus", "agent_loop"), VARIANTS)
def test_verl_composes_and_validates(
    verl_compose, tiny_model_dir: Path, preset: str, extra: list[str], n_gpus: int, agent_loop: str
) -> None:
    import importlib.util

    import torch
    from verl.trainer.ppo.core_algos import AdvantageEstimator, kl_penalty
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import omega_conf_to_dataclass, validate_config

    config = build_config(preset, extra)
    if config.adv_estimator == "gae":  # verl's critic check loads the model's config and tokenizer: keep it offline
        config = build_config(preset, [*extra, f"model_path={tiny_model_dir}"])
    cfg = verl_compose(verl_bridge.verl_overrides(config, n_gpus, agent_loop))  # an unknown key fails here
    use_ref, use_critic = need_reference_policy(cfg), need_critic(cfg)
    assert (use_ref, use_critic) == (config.use_kl_loss or config.use_kl_in_reward, config.adv_estimator == "gae")
    if config.lora_rank and importlib.util.find_spec("vllm") is None:
        # the one check that needs vLLM installed: the LoRA rank against vLLM's allowed ranks (at most 512)
        assert config.lora_rank <= 512
        cfg = cfg.copy()
        cfg.actor_rollout_ref.model.lora_rank = 0
    validate_config(config=cfg, use_reference_policy=use_ref, use_critic=use_critic)
    omega_conf_to_dataclass(cfg.algorithm)  # verl's AlgoConfig accepts the algorithm section
    AdvantageEstimator(cfg.algorithm.adv_estimator)
    kl_penalty(torch.zeros(2), torch.zeros(2), cfg.actor_rollout_ref.actor.kl_loss_type)
    assert cfg.actor_rollout_ref.rollout.prompt_length == config.max_prompt_length  # verl's own interpolation
    assert cfg.actor_rollout_ref.actor.rollout_n == config.rollout_n
    rollout = omega_conf_to_dataclass(cfg.actor_rollout_ref.rollout)  # verl's RolloutConfig, as its workers build it
    assert rollout.response_length == config.max_response_tokens
    assert rollout.multi_turn.enable == config.is_search_task
    if config.is_search_task:
        assert (rollout.multi_turn.max_assistant_turns, rollout.multi_turn.max_user_turns) == (
            config.max_turns + 1,
            config.max_turns,
        )
        assert rollout.multi_turn.format == "search_r1"
        assert rollout.agent.default_agent_loop == verl_bridge.AGENT_LOOPS[agent_loop]

    # verl loads the reward file by its path, as its reward loop will, and calls it as its reward manager does
    reward_fn = get_custom_reward_fn(cfg)
    if config.is_search_task:
        good, truth = "<think> a </think> <answer> Paris </answer>", {"target": np.array(["Paris"], dtype=object)}
        source = DATA_SOURCES["sample-nq"]
    else:
        good, truth, source = "so #### 72", "72", DATA_SOURCES["gsm8k"]
    assert reward_fn(data_source=source, solution_str=good, ground_truth=truth, extra_info={}) == 1.0


# ---------------------------------------------------------------- (d) the command line


def test_cli_dry_run_prepares_data_and_prints_the_command(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["--preset", "tiny_sample_gsm8k", "--dry-run", f"data_dir={tmp_path / 'data'}", f"output_dir={tmp_path}"]
    assert verl_bridge.main(argv) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "data" / "sample-gsm8k" / "train.parquet").is_file()
    assert "verl.trainer.main_ppo" in out and f"reward.custom_reward_function.path={verl_bridge.REWARD_FILE}" in out
    assert f"data.train_files={tmp_path / 'data' / 'sample-gsm8k' / 'train.parquet'}" in out
    assert "note: warmup_sft_steps=200" in out


def test_cli_without_a_gpu_is_a_clear_error(tmp_path: Path, monkeypatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(verl_bridge, "_gpu_count", lambda: 0)
    monkeypatch.setattr(verl_bridge.os, "execve", lambda *a: pytest.fail("must not start verl"))
    argv = ["--preset", "tiny_sample_gsm8k", f"data_dir={tmp_path}", f"output_dir={tmp_path}"]
    assert verl_bridge.main(argv) == 2
    assert re.search(r"error: (verl needs 1 CUDA GPU|.* not importable)", capsys.readouterr().err)
    assert verl_bridge.main(["--preset", "tiny_sample_gsm8k", "no_such_key=1"]) == 2
    assert "unknown config key 'no_such_key'" in capsys.readouterr().err


def test_cli_dry_run_of_a_search_task_writes_the_agent_loop_files(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ["--preset", "tiny_sample_nq", "--dry-run", f"data_dir={tmp_path / 'data'}", f"output_dir={tmp_path}"]
    assert verl_bridge.main(argv) == 0
    out = capsys.readouterr().out
    folder = tmp_path / "tiny_sample_nq" / "verl"
    assert (folder / "search_tool.yaml").is_file() and (folder / "agent_loop.yaml").is_file()
    assert f"wrote {folder / 'search_tool.yaml'}:" in out and "_target_: minimal_impl.verl_agent_loop" in out
    assert f"PYTHONPATH={verl_bridge.ROOT}" in out  # verl's workers import our tool and loop by module name
    assert "actor_rollout_ref.rollout.multi_turn.enable=true" in out
    assert verl_bridge.worker_env({"PYTHONPATH": "/x"})["PYTHONPATH"] == f"{verl_bridge.ROOT}:/x"
