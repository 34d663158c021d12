"""Dataset files as Fides writes them load unchanged; their problems name file, line, path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures_support import DATASET_FILE
from tutela.datasets.loading import check_sources, load_datasets, read_dataset_text
from tutela.declarations import Problem
from tutela.declarations.taxonomy import fideslang_vocabulary
from tutela.domain.errors import DeclarationInvalid


def problems_of(text: str) -> list[Problem]:
    source = read_dataset_text(text, "shop.yml")
    check_sources([source], fideslang_vocabulary().categories)
    return source.problems


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def test_the_fides_fixture_loads_unchanged() -> None:
    (dataset,) = load_datasets(DATASET_FILE)
    assert dataset.fides_key == "postgres_example_test_dataset"
    assert len(dataset.collections) == 11
    customer = dataset.collection("customer")
    assert customer is not None
    email = customer.field("email")
    assert email is not None
    assert email.meta.identity == "email"
    assert email.categories == ("user.contact.email",)
    address_id = customer.field("address_id")
    assert address_id is not None
    (reference,) = address_id.meta.references or ()
    assert (reference.collection, reference.field_path, reference.direction) == (
        "address",
        "id",
        "to",
    )
    name = dataset.collection("employee").field("name")  # type: ignore[union-attr]
    assert name is not None
    assert name.meta.masking_strategy_override is not None
    assert name.meta.masking_strategy_override.strategy == "string_rewrite"


SHOP = """\
dataset:
  - fides_key: shop
    collections:
      - name: customer
        fides_meta: {after: [shop.account], erase_after: [shop.orders]}
        fields:
          - name: id
            fides_meta: {primary_key: true}
          - name: email
            data_categories: [user.contact.email]
            fidesops_meta: {identity: email, data_type: string, length: 100}
          - name: profile
            fides_meta: {data_type: object}
            fields:
              - name: street
                data_categories: [user.contact.address.street]
              - name: nickname
                data_categories: [user.name]
      - name: orders
        fields:
          - name: customer_id
            data_categories: [user.unique_id]
            fides_meta:
              references: [{dataset: shop, field: customer.id, direction: from}]
      - name: account
        fides_meta: {skip_processing: true}
        fields:
          - name: id
"""


def test_nested_fields_old_meta_and_collection_meta_are_accepted() -> None:
    assert problems_of(SHOP) == []
    source = read_dataset_text(SHOP, "shop.yml")
    ((_, dataset),) = source.datasets
    customer = dataset.collection("customer")
    assert customer is not None
    assert customer.field("email").meta.identity == "email"  # type: ignore[union-attr]
    assert set(customer.paths) == {"id", "email", "profile", "profile.street", "profile.nickname"}
    assert customer.meta.erase_after == ("shop.orders",)
    assert [c.name for c in dataset.active_collections] == ["customer", "orders"]


@pytest.mark.parametrize(
    ("change", "needle", "path", "message", "fix"),
    [
        (
            ("field: customer.id", "field: custmer.id"),
            "field: custmer.id",
            "dataset[0].collections[1].fields[0].fides_meta.references[0].field",
            "custmer.id: no collection custmer in dataset shop",
            "did you mean customer?",
        ),
        (
            ("field: customer.id", "field: customer.idd"),
            "field: customer.idd",
            "dataset[0].collections[1].fields[0].fides_meta.references[0].field",
            "customer.idd: no field idd in collection customer",
            "did you mean id?",
        ),
        (
            ("{dataset: shop,", "{dataset: shpo,"),
            "dataset: shpo",
            "dataset[0].collections[1].fields[0].fides_meta.references[0].dataset",
            "shpo: no dataset with this fides_key",
            "did you mean shop?",
        ),
        (
            ("[user.contact.email]", "[user.contact.emial]"),
            "user.contact.emial",
            "dataset[0].collections[0].fields[1].data_categories[0]",
            "user.contact.emial: unknown data category",
            "did you mean user.contact.email?",
        ),
        (
            ("{identity: email,", "{identiy: email,"),
            "identiy",
            "dataset[0].collections[0].fields[1].fides_meta.identiy",
            "unknown key",
            "did you mean identity?",
        ),
        (
            ("data_type: string", "data_type: text"),
            "data_type: text",
            "dataset[0].collections[0].fields[1].fides_meta.data_type",
            "text: unknown data type",
            None,
        ),
        (
            ("[shop.orders]", "[shop.order]"),
            "shop.order]",
            "dataset[0].collections[0].fides_meta.erase_after[0]",
            "shop.order: no such collection",
            None,
        ),
    ],
)
def test_problems_are_placed(
    change: tuple[str, str], needle: str, path: str, message: str, fix: str | None
) -> None:
    text = SHOP.replace(*change)
    problem = only(problems_of(text))
    assert problem.file == "shop.yml"
    assert problem.line == line_of(text, needle)
    assert problem.path == path
    assert problem.message == message
    if fix is not None:
        assert problem.fix == fix
    else:
        assert problem.fix


def test_no_identity_field() -> None:
    text = SHOP.replace("identity: email, ", "")
    messages = [p.message for p in problems_of(text)]
    assert any("no field has fides_meta.identity" in m for m in messages)


def test_unreachable_collection() -> None:
    text = SHOP.replace("references: [{dataset: shop, field: customer.id, direction: from}]", "")
    problem = only(problems_of(text))
    assert problem.path == "dataset[0].collections[1]"
    assert "no identity field and no reference reaches" in problem.message
    assert "skip_processing" in (problem.fix or "")
    # direction "to" flows from orders to customer: orders is still not reached
    text = SHOP.replace("direction: from", "direction: to")
    assert only(problems_of(text)).path == "dataset[0].collections[1]"


def test_shape_problems() -> None:
    assert only(problems_of("collections: []\n")).message.startswith("not a fideslang dataset")
    problem = only(problems_of("dataset:\n  - fides_key: shop\n"))
    assert problem.path == "dataset[0].collections"
    assert problem.line == 2
    syntax = only(problems_of("dataset:\n  - fides_key: [shop\n"))
    assert syntax.message.startswith("not valid YAML")
    assert syntax.line is not None
    duplicate = problems_of(SHOP.replace("- name: account", "- name: orders"))
    assert any("orders: collection declared twice" in p.message for p in duplicate)


def test_load_raises_with_every_problem(tmp_path: Path) -> None:
    file = tmp_path / "shop.yml"
    file.write_text(SHOP.replace("customer.id", "custmer.id").replace("[user.name]", "[usr]"))
    with pytest.raises(DeclarationInvalid) as raised:
        load_datasets(file)
    assert len(raised.value.problems) == 2
    assert all(p.file == str(file) for p in raised.value.problems)
