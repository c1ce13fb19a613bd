#!/bin/bash
# The grader's CUDA path, checked on a GPU machine in one run (about 5 minutes on an H200 with 16 cores).
# CI has no GPU; a session lent one runs this from the repository root, with OUT set to a folder for
# the log and the feedback plot:
#     OUT=/tmp/out bash tests/gpu_check.sh
# It uses that machine's own Python, which must hold torch (a CUDA build), numpy, hypothesis,
# matplotlib, rich and pytest-xdist, and puts this checkout on its path. pyseccomp, which such
# images lack, is installed from a wheel in .dev/ if one is there (pip download pyseccomp==0.1.2 -d .dev):
# without it the seccomp layer is off and a child that keeps uid 0 is refused.
set -u
OUT=${OUT:?set OUT to a folder for the results}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
{
echo "== the machine"; date; nvidia-smi -L
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
ls .dev/pyseccomp-*.whl >/dev/null 2>&1 && python3 -m pip install -q --no-index --no-deps --no-compile .dev/pyseccomp-*.whl
echo "$PWD" > "$(python3 -c 'import site; print(site.getsitepackages()[0])')/grader_checkout.pth"

summary() { python3 - "$@" <<'PY'
import json, sys
for path in sys.argv[1:]:
    try:
        r = json.load(open(path))
    except (OSError, ValueError) as err:
        print(path, "no result:", err)
        continue
    print("##", path.split("/")[-2], r["status"], r["score"], r["devices"], "events", r["sandbox"].get("events"))
    print("   layers", r["sandbox"].get("layers"))
    if r["grader_error"]:
        print("   grader error:", r["grader_error"][-1500:])
    for check in r["checks"]:
        if not check.get("passed", True):
            print("   failed", check.get("name"), str(check.get("message"))[:300].replace("\n", " | "))
PY
}

echo "== an honest file with every layer, and with each layer left off in turn (which layer stops CUDA?)"
pids=()
for skip in all seccomp landlock namespaces uid; do
    s=$skip; [ "$s" = all ] && s=
    GRADER_SANDBOX_SKIP=$s timeout 150 python3 -m grader grade submissions/honest_backward.py \
        --out "/tmp/gpu_check/$skip" --no-plot --quiet > /dev/null 2>&1 & pids+=($!)
done
timeout 150 python3 -m grader grade submissions/cheat_cos.py --out /tmp/gpu_check/cheat --no-plot --device cuda \
    --quiet > /dev/null 2>&1 & pids+=($!)
timeout 150 python3 -m grader grade submissions/honest_backward.py --out /tmp/gpu_check/plotted --device cuda \
    > /tmp/gpu_check_plotted.txt 2>&1 & pids+=($!)
wait "${pids[@]}"
summary /tmp/gpu_check/{all,seccomp,landlock,namespaces,uid,cheat,plotted}/result.json
head -40 /tmp/gpu_check_plotted.txt
cp /tmp/gpu_check/plotted/feedback.png "$OUT/" 2>/dev/null

echo "== tests/slow/test_cuda.py"; date
timeout 200 python3 -m pytest tests/slow/test_cuda.py -q -p no:cacheprovider -n 8 2>&1 | tail -30

echo "== a batch of the samples, forked from the zygote, on cpu and cuda"; date
timeout 150 python3 -m grader batch submissions --out /tmp/gpu_check/batch -j 8 --no-plot 2>&1 | tail -2
cut -d, -f1,2,4 /tmp/gpu_check/batch/gradebook.csv | tr '\n' ' '; echo
summary $(grep -l '"grader_error": "' /tmp/gpu_check/batch/*/result.json) 2>/dev/null | head -40

echo "== the hostile and confinement tests, with a GPU there"; date
timeout 150 python3 -m pytest tests/slow/test_confinement.py tests/slow/test_hostile.py -q -p no:cacheprovider -n 14 \
    2>&1 | grep -E "^(FAILED|ERROR)|passed|failed" | tail -40
date
} 2>&1 | tee "$OUT/log.txt"
