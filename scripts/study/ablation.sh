#!/bin/sh
# The paper's loss-measure ablation (Table 5) in a study run directory: tDRO
# with DoReMi's excess loss and with GroupDRO's raw loss, each with ratio
# transfer, join the study preset's transfer list. Stages already done are
# skipped, so a finished `make study` adds only these two learners, their
# fine-tuned models and the tables: measured against the same uniform models,
# seeds and evaluation samples as the rest of the study.
# Usage: scripts/study/ablation.sh [RUN_DIR]   (default runs/study; DATA=...)
set -eu
out=${1:-runs/study}; data=${DATA:-../shared/data}
mkdir -p "$out"
python3 - "$(dirname "$0")/../../configs/study.json" "$out/ablation.json" <<'PY'
import json, sys
transfer = json.load(open(sys.argv[1]))["transfer"]
transfer += [{"name": "tdro-" + m + "-ratio", "strategy": "ratio", "learner": "tdro-" + m} for m in ("excess", "raw")]
json.dump({"transfer": transfer}, open(sys.argv[2], "w"), indent=1)
PY
exec ./bin/tdro run --preset study --config "$out/ablation.json" --data "$data" --out "$out"
