from datetime import date
from typing import Annotated

import pytest
from pydantic import ValidationError

from chat_core._base import CamelModel
from chat_core.assistants import AssistantUpdate, Visibility
from chat_core.fields import NOT_NULL, IsoDate, StrictBool, StrictFloat, StrictInt, omittable
from chat_core.managed_models import ManagedModelUpdate


class Change(CamelModel):
    title: Annotated[str | None, NOT_NULL] = omittable(min_length=1)
    visibility: Annotated[Visibility | None, NOT_NULL] = omittable()
    note: str | None = None


class TestOmittable:
    def test_a_field_left_out_is_not_part_of_the_change(self) -> None:
        assert Change.model_validate({}).model_dump(exclude_unset=True) == {}

    @pytest.mark.parametrize("field", ["title", "visibility"])
    def test_null_is_refused_and_names_the_field(self, field: str) -> None:
        with pytest.raises(ValidationError) as caught:
            Change.model_validate({field: None})
        [error] = caught.value.errors()
        assert (error["loc"], error["type"]) == ((field,), "null_not_allowed")

    def test_wrong_types_and_constraints_still_name_the_field(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Change.model_validate({"title": "", "visibility": "SECRET"})
        assert sorted(error["loc"] for error in caught.value.errors()) == [("title",), ("visibility",)]

    def test_a_nullable_field_still_takes_null(self) -> None:
        assert Change.model_validate({"note": None}).model_dump(exclude_unset=True) == {"note": None}

    def test_the_json_schema_is_optional_and_not_nullable(self) -> None:
        schema = Change.model_json_schema()
        assert schema.get("required", []) == []
        assert schema["properties"]["title"] == {"minLength": 1, "title": "Title", "type": "string"}
        assert schema["properties"]["visibility"] == {"$ref": "#/$defs/Visibility"}
        assert {"type": "null"} in schema["properties"]["note"]["anyOf"]


class TestUpdates:
    @pytest.mark.parametrize("field", ["name", "visibility", "status", "tags"])
    def test_an_assistant_update_refuses_null_for_non_nullable_fields(self, field: str) -> None:
        with pytest.raises(ValidationError):
            AssistantUpdate.model_validate({field: None})

    def test_an_assistant_image_is_cleared_with_null(self) -> None:
        assert AssistantUpdate.model_validate({"imageUrl": None}).model_dump(exclude_unset=True) == {
            "image_url": None
        }

    @pytest.mark.parametrize("field", ["modelId", "enabled", "inputPricePerMillionTokens", "allowedAppRoles"])
    def test_a_managed_model_update_refuses_null_for_non_nullable_fields(self, field: str) -> None:
        with pytest.raises(ValidationError):
            ManagedModelUpdate.model_validate({field: None})

    def test_a_managed_model_update_clears_nullable_fields(self) -> None:
        change = ManagedModelUpdate.model_validate(
            {"cacheReadPricePerMillionTokens": None, "knowledgeCutoffDate": None}
        )
        assert change.model_dump(exclude_unset=True) == {
            "cache_read_price_per_million_tokens": None,
            "knowledge_cutoff_date": None,
        }


class Typed(CamelModel):
    count: StrictInt = 0
    price: StrictFloat = 0.0
    flag: StrictBool = False
    day: IsoDate | None = None


class TestStrictTypes:
    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("count", True),
            ("count", "3"),
            ("count", 3.0),
            ("price", True),
            ("price", "1.5"),
            ("flag", 0),
            ("flag", "yes"),
            ("day", 0),
            ("day", "0"),
            ("day", "2025-01-01T00:00:00"),
        ],
    )
    def test_a_wrong_json_type_is_refused_naming_the_field(self, field: str, value: object) -> None:
        with pytest.raises(ValidationError) as caught:
            Typed.model_validate({field: value})
        assert caught.value.errors()[0]["loc"] == (field,)

    def test_the_right_types_pass(self) -> None:
        typed = Typed.model_validate({"count": 3, "price": 3, "flag": True, "day": "2025-03-01"})
        assert (typed.count, typed.price, typed.flag, typed.day) == (3, 3.0, True, date(2025, 3, 1))
        assert Typed(day=date(2025, 3, 1)).day == date(2025, 3, 1)
