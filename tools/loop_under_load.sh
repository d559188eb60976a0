#!/usr/bin/env bash
# Run the multi-process sampler tests N times while 2 busy loops load the CPUs; one summary line at the end.
# usage: tools/loop_under_load.sh N LOG [pytest -k expression]
set -u
n=${1:-50}; log=${2:-/tmp/loop_under_load.log}; k=${3:-"fastai_distributed_dl or weighted_sampler"}
python3 -c "while True: pass" & l1=$!
python3 -c "while True: pass" & l2=$!
trap 'kill $l1 $l2' EXIT
green=0
for i in $(seq 1 "$n"); do
  if python -m pytest tests/test_distributed.py -q -p no:cacheprovider -k "$k" >"$log.run$i" 2>&1; then
    green=$((green + 1)); echo "run $i: green ($(tail -n 1 "$log.run$i"))" | tee -a "$log"
  else echo "run $i: RED ($(tail -n 1 "$log.run$i"))" | tee -a "$log"; fi
done
echo "SUMMARY: $green/$n green, -k '$k'" | tee -a "$log"
