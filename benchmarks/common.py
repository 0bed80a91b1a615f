"""Helpers shared by the benchmark scripts."""

from importlib.metadata import PackageNotFoundError, version


def package_versions(names) -> dict[str, str]:
    """The installed version of each distribution in `names` ("not installed" if absent)."""
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found
