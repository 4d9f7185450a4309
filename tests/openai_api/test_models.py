"""GET /v1/models and /v1/models/{id} through OpenAI's SDK."""

import anyio.to_thread
import openai
import pytest

DEV_MODEL = "colloquy-dev"


async def test_list_models(sdk: openai.AsyncOpenAI) -> None:
    page = await sdk.models.list()

    models = {model.id: model for model in page.data}
    assert DEV_MODEL in models
    assert models[DEV_MODEL].object == "model"
    assert models[DEV_MODEL].owned_by == "colloquy"
    assert models[DEV_MODEL].created > 0


async def test_retrieve_model_by_name(sdk: openai.AsyncOpenAI) -> None:
    model = await sdk.models.retrieve(DEV_MODEL)

    assert model.id == DEV_MODEL
    assert model.owned_by == "colloquy"


async def test_retrieve_unknown_model_is_not_found(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await sdk.models.retrieve("no-such-model")

    assert caught.value.code == "model_not_found"
    assert caught.value.type == "invalid_request_error"


async def test_sync_client_lists_models(sync_sdk: openai.OpenAI) -> None:
    page = await anyio.to_thread.run_sync(sync_sdk.models.list)

    assert DEV_MODEL in [model.id for model in page.data]
