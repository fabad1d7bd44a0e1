"""Every benchmark in bench/ still runs: each is started as the README says, on a tiny size and a temp-file SQLite,
so a move or a renamed function can never break one silently. (The figures are not checked: benches are run by
hand, never as timed tests.)"""

import os
import subprocess
import sys

import pytest

from config import BASE_DIR

BENCHES = {
    "access": ["--scans", "5", "--checkins", "500"],
    "api_auth": ["20"],
    "patient_search": ["200"],
    "patient_import": ["--rows", "300"],
    "appointments_tab": ["--patients", "50", "--appointments", "500", "--repeats", "2"],
    "hub": ["--appointments", "50", "--metrics", "500", "--repeats", "2"],
    "scheduling": ["--appointments", "500", "--repeats", "2"],
    "webhooks": ["-n", "40", "-c", "2"],
    "webhooks_wrk": ["-d", "1", "--rounds", "1", "--pool", "2000"],
    "webhooks_calls": ["-n", "20"],
}


def test_every_bench_is_listed():
    """A new bench is added here too (bench/webhooks_app.py is the webhooks bench's server, not a bench)."""
    found = {path.stem for path in (BASE_DIR / "bench").glob("*.py")} - {"webhooks_app", "__init__"}
    assert found == set(BENCHES)


@pytest.mark.parametrize("name", sorted(BENCHES))
def test_bench_runs_on_a_tiny_size(name, tmp_path):
    """The bench exits 0 and prints its ratio; it uses a temp-file SQLite, never the tests' database."""
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "TEST_DATABASE_URL")}
    args = list(BENCHES[name])
    if name == "appointments_tab":
        args += ["--db", str(tmp_path / "bench.sqlite3")]
    result = subprocess.run([sys.executable, str(BASE_DIR / "bench" / f"{name}.py"), *args], cwd=BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "ratio" in result.stdout
