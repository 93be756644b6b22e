"""Signing vectors of §3.2 and §3.4, and secrets kept out of reprs (P11)."""

from __future__ import annotations

import pickle

import pytest

from genesis.exchange.binance.signing import Credentials, hmac_sha256_hex, rest_query, ws_payload

CANARY_KEY = "CANARYKEYvmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7J"
CANARY_SECRET = "CANARYSECRETNhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvq"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
WS_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"


def test_rest_vector_of_section_3_2() -> None:
    """The REST payload in send order signs to Binance's published signature."""
    params = [
        ("symbol", "LTCBTC"),
        ("side", "BUY"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("quantity", "1"),
        ("price", "0.1"),
        ("recvWindow", "5000"),
        ("timestamp", "1499827319559"),
    ]
    query = Credentials("key", SECRET).signed_query(params)
    assert query == (
        rest_query(params) + "&signature="
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )


def test_ws_api_vector_of_section_3_4() -> None:
    """WS API params are sorted, include apiKey, and sign to the published signature."""
    params = {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01000000",
        "price": "52000.00",
        "recvWindow": 100,
        "timestamp": 1645423376532,
    }
    signed = Credentials(WS_KEY, SECRET).signed_ws_params(params)
    assert ws_payload(signed).startswith("apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6")
    assert signed["signature"] == "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"


def test_non_ascii_is_percent_encoded_in_rest_payload() -> None:
    """Non-ASCII values are UTF-8 percent-encoded before signing (§3.2 step 1)."""
    assert rest_query([("symbol", "这是测试币456")]) == (
        "symbol=%E8%BF%99%E6%98%AF%E6%B5%8B%E8%AF%95%E5%B8%81456"
    )


def test_credentials_never_show_key_or_secret() -> None:
    """repr/str of Credentials contain neither canary value, and pickling is refused."""
    creds = Credentials(CANARY_KEY, CANARY_SECRET)
    text = repr(creds) + str(creds) + repr([creds])
    assert CANARY_KEY not in text
    assert CANARY_SECRET not in text
    with pytest.raises(TypeError):
        pickle.dumps(creds)


def test_hmac_is_hex_sha256() -> None:
    """The raw HMAC helper returns 64 lowercase hex characters."""
    assert len(hmac_sha256_hex("s", "p")) == 64
