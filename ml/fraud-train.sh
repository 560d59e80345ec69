#!/usr/bin/env bash
# npm run fraud:train [-- --from-gateway] [-- --input <csv.gz>] [-- --check]
#
# 1. a project-local Python environment (.tools/fraud-venv) with the pinned libraries of ml/requirements.txt;
# 2. the features of every row, computed by the TypeScript pipeline the worker uses (src/cli/fraud-export.ts);
# 3. ml/train.py: validation folds, the model family, thresholds, models/fraud/<version>.json and the
#    parity fixture test/fixtures/fraud/parity-scores.csv.gz.
# With --check (CI), nothing is written: the newest artifact must be reproduced exactly.
# With --from-gateway, the rows come from the gateway's own fraud tables (DATABASE_URL or DATA_DIR),
# labelled by fraud reports (src/cli/fraud-gateway-export.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
venv="$root/.tools/fraud-venv"
input="$root/../shared/data/fraud-sim/transactions-2018-04-01_2018-08-07.csv.gz"
source_name="shared data (fraud-sim)"
folds=""
while [ $# -gt 0 ]; do
  case "$1" in
    --from-gateway) from_gateway=1 ;;
    --input) input="$2"; shift ;;
    --check) check=1 ;;
    *) echo "fraud:train: unknown option $1 (use --from-gateway or --input <file>)" >&2; exit 2 ;;
  esac
  shift
done

stamp="$venv/.requirements.sha256"
want=$(sha256sum ml/requirements.txt | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "fraud:train: installing the training environment into .tools/fraud-venv (ml/requirements.txt, from PyPI)"
  mkdir -p "$root/.tools"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: -r ml/requirements.txt
  echo "$want" > "$stamp"
fi

npx tsc -p tsconfig.build.json
work="${DATA_DIR:-data}/fraud-train"
mkdir -p "$work"
if [ "${from_gateway:-}" = 1 ]; then
  input="$work/gateway-transactions.csv"
  node dist/cli/fraud-gateway-export.js --output "$input"
  source_name="gateway payments and fraud reports"
  folds="--folds auto"
fi
echo "fraud:train: features from $input (TypeScript pipeline)"
nice -n 10 node dist/cli/fraud-export.js --input "$input" --output "$work"
if [ "${check:-}" = 1 ]; then
  # CI: the committed artifact is what this script produces (its candidate only, not the whole search).
  artifact=$(ls models/fraud/*.json | sort | tail -1)
  OMP_NUM_THREADS=1 nice -n 10 "$venv/bin/python" ml/train.py --features "$work" --models models/fraud \
    --fixture test/fixtures/fraud/parity-scores.csv.gz --source "$source_name" --check "$artifact"
  exit $?
fi
# One thread: the machines are shared (and one thread makes LightGBM's result reproducible).
OMP_NUM_THREADS=1 nice -n 10 "$venv/bin/python" ml/train.py --features "$work" --models models/fraud \
  --fixture test/fixtures/fraud/parity-scores.csv.gz --source "$source_name" $folds
