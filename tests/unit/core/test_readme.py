"""README.md stays true: the two commands come first and the generated sections match the code."""

from keyframe import readme


def test_readme_opens_with_the_two_commands() -> None:
    text = readme.README.read_text()
    first_block = text.split("```")[1]
    assert "make dev" in first_block and "make test" in first_block


def test_generated_sections_match_the_code() -> None:
    text = readme.README.read_text()
    assert readme.render(text) == text, "run: python -m keyframe.readme"


def test_every_endpoint_is_listed() -> None:
    text = readme.README.read_text()
    for endpoint in readme.registry.endpoints():
        assert f"| {endpoint.method} | `{endpoint.path}` |" in text
