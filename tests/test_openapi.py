"""The published API document matches how the API answers."""

import httpx


async def test_every_operation_is_documented_with_problem_errors(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in str(schema)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("description") or operation.get("summary"), (method, path)
            if path.startswith("/v1/"):
                assert "422" not in operation["responses"], (method, path)
                continue
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], (
                        method,
                        path,
                        status,
                    )


def test_every_setting_is_explained_in_the_env_example() -> None:
    from pathlib import Path

    from colloquy.core.settings import Settings

    example = (Path(__file__).parent.parent / ".env.example").read_text()
    for name in Settings.model_fields:
        variable = (
            name.upper() if name in {"database_url", "redis_url"} else f"COLLOQUY_{name.upper()}"
        )
        assert f"{variable}=" in example, variable
