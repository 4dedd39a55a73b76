"""The deployment settings of run.yaml that carry secrets: what is refused at load, and secrets kept out of reprs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.auth import TokenTable
from gateway.registry_store import make_registry_store
from llama_mesh.runtime.config import AuthConfig, GatewayConfig, RegistryConfig, RunConfig, TokenConfig
from llama_mesh.runtime.server import StartupError


def test_a_token_names_exactly_one_secret() -> None:
    with pytest.raises(ValidationError, match="exactly one of token, token_env, token_file"):
        TokenConfig(name="a", resources="all")
    with pytest.raises(ValidationError, match="exactly one of token, token_env, token_file"):
        TokenConfig(name="a", token="x", token_env="Y", resources="all")


def test_the_service_token_must_be_one_of_the_tokens() -> None:
    with pytest.raises(ValidationError, match="service_token must name one of"):
        AuthConfig(tokens=[TokenConfig(name="a", token="x", resources="all")], service_token="b")
    assert not AuthConfig().enabled


def test_postgres_needs_a_dsn_and_secrets_stay_out_of_reprs() -> None:
    with pytest.raises(ValidationError, match="type postgres needs dsn or dsn_file"):
        RegistryConfig(type="postgres")
    registry = RegistryConfig(type="postgres", dsn="postgresql://u:pw-Secret@db/x")
    token = TokenConfig(name="a", token="tok-Secret", resources="all")
    assert "pw-Secret" not in repr(registry) and "tok-Secret" not in repr(token)


def test_unreadable_token_and_unknown_kind_stop_the_gateway(tmp_path: Path) -> None:
    missing = AuthConfig(
        tokens=[TokenConfig(name="svc", token_file=str(tmp_path / "absent"), resources="all")], service_token="svc"
    )
    with pytest.raises(StartupError, match="token 'svc': cannot read"):
        TokenTable(missing)
    typo = AuthConfig(tokens=[TokenConfig(name="a", token="x", resources={"modles": ["*"]})], service_token="a")
    with pytest.raises(StartupError, match="unknown resource kind 'modles'"):
        TokenTable(typo)


def test_an_unreadable_dsn_file_stops_the_gateway(tmp_path: Path) -> None:
    config = RunConfig(
        distribution="t",
        data_dir=str(tmp_path),
        cache_dir=str(tmp_path),
        gateway=GatewayConfig(registry=RegistryConfig(type="postgres", dsn_file=str(tmp_path / "absent"))),
        services=[],
    )
    with pytest.raises(StartupError, match="gateway.registry.dsn: cannot read"):
        make_registry_store(config)


def _run_config(**gateway: object) -> dict[str, object]:
    return {
        "distribution": "t",
        "data_dir": "/d",
        "cache_dir": "/c",
        "services": [],
        "gateway": {"registry": {"type": "sqlite", "path": "r.db"}, **gateway},
    }


def test_the_gateways_mesh_port_needs_mesh_tls_and_plaintext_callers_need_it() -> None:
    """Services reach a gateway that serves its callers in plaintext (or with gateway.tls) over mTLS on its mesh port;
    that port is served with mesh TLS only."""
    tls = {"ca_file": "ca.crt", "cert_file": "{service}.crt", "key_file": "{service}.key"}
    with pytest.raises(ValidationError, match="gateway.mesh_address is needed"):
        RunConfig.model_validate({**_run_config(plaintext=True), "tls": tls})
    with pytest.raises(ValidationError, match="served with mesh TLS only"):
        RunConfig.model_validate(_run_config(mesh_address="127.0.0.1:50052"))
    config = RunConfig.model_validate({**_run_config(plaintext=True, mesh_address="127.0.0.1:50052"), "tls": tls})
    assert config.gateway.mesh_address == "127.0.0.1:50052"
    assert RunConfig.model_validate({**_run_config(), "tls": tls}).gateway.mesh_address == ""  # callers on mTLS too
