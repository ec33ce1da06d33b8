"""The real Helm for tests/integration/helm_chart.rs: PyPI's helm-python-sdk, Helm v4's Go library, offline.

    chart.py render CHART RELEASE NAMESPACE [VALUES]   -> {template path: manifest} as JSON
    chart.py lint CHART [VALUES]                       -> Helm's strict lint report as JSON

VALUES is a YAML values file (as `helm -f`) or inline JSON. A Helm error goes to stderr, exit 1.
"""

import json
import sys

import helm_python as helm


def values(argument):
    if argument is None:
        return {}
    if argument.lstrip().startswith("{"):
        return json.loads(argument)
    with open(argument, encoding="utf-8") as file:
        return helm.values_from_yaml(file.read())


def main(argv):
    command, chart, *rest = argv
    try:
        if command == "render":
            release, namespace, *given = rest
            with helm.Chart.load(chart) as loaded:
                result = loaded.render(
                    values=values(given[0] if given else None),
                    name=release,
                    namespace=namespace,
                    is_install=True,
                )
        elif command == "lint":
            result = helm.lint(chart, values(rest[0] if rest else None), strict=True)
        else:
            raise SystemExit(f"unknown command {command}")
    except helm.HelmError as error:
        print(error, file=sys.stderr)
        return 1
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
