"""The bounded page query: full pages, short pages at the request budget, and exact resume keys."""

from __future__ import annotations

from typing import Any

from keyframe.storage.pages import query_page


class _Pages:
    """DynamoDB pages of ``evaluated`` items each over ``items``, keeping only those ``keep`` accepts."""

    def __init__(self, items: list[int], evaluated: int, keep: Any, start: int) -> None:
        self.items, self.evaluated, self.keep, self.position = items, evaluated, keep, start
        self.requests = 0

    def __next__(self) -> dict[str, Any]:
        self.requests += 1
        chunk = self.items[self.position : self.position + self.evaluated]
        self.position += len(chunk)
        page: dict[str, Any] = {
            "Items": [{"pk": {"S": str(n)}, "sk": {"S": "x"}} for n in chunk if self.keep(n)]
        }
        if self.position < len(self.items):
            page["LastEvaluatedKey"] = {"pk": {"S": str(chunk[-1])}, "sk": {"S": "x"}}
        return page


class _Model:
    """A stand-in for a PynamoDB model over the numbers 0..99."""

    keep = staticmethod(lambda n: True)
    last: _Pages | None = None

    @classmethod
    def query(cls, hash_key, *, last_evaluated_key=None, page_size=None, filter_condition=None, **_: Any):
        start = int(last_evaluated_key["pk"]["S"]) + 1 if last_evaluated_key else 0
        cls.last = _Pages(
            list(range(100)), page_size, cls.keep if filter_condition else (lambda n: True), start
        )
        return type("Iterator", (), {"page_iter": cls.last})()

    @classmethod
    def from_raw_data(cls, raw: dict[str, Any]) -> int:
        return int(raw["pk"]["S"])


def _walk(limit: int, *, filtered: bool, max_requests: int, evaluations: int) -> list[list[int]]:
    pages, start = [], None
    while True:
        page = query_page(
            _Model,
            "h",
            limit=limit,
            start_key=start,
            max_requests=max_requests,
            filter_condition="x" if filtered else None,
            evaluations_per_request=evaluations,
        )
        assert page.requests <= max_requests
        pages.append(page.items)
        start = page.next_key
        if start is None:
            return pages


def test_unfiltered_pages_cost_one_request_and_end_without_an_empty_page():
    pages = _walk(25, filtered=False, max_requests=1, evaluations=0)

    assert [len(p) for p in pages] == [25, 25, 25, 25]
    assert [n for p in pages for n in p] == list(range(100))


def test_sparse_filter_gives_short_pages_that_resume_exactly():
    _Model.keep = staticmethod(lambda n: n % 30 == 0)  # 0, 30, 60, 90

    pages = _walk(2, filtered=True, max_requests=2, evaluations=10)

    assert [n for p in pages for n in p] == [0, 30, 60, 90]
    assert any(len(p) == 0 for p in pages)


def test_dense_filter_stops_mid_page_and_resumes_after_the_last_item_returned():
    _Model.keep = staticmethod(lambda n: n % 2 == 0)

    pages = _walk(3, filtered=True, max_requests=4, evaluations=20)

    assert [n for p in pages for n in p] == list(range(0, 100, 2))
    assert all(len(p) == 3 for p in pages[:-1])
