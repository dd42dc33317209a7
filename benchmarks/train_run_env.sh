# Sourced by the benchmark scripts that run `deeptrain train` (defaults_sweep.sh, rss_soak.sh), from the repository
# root. Sets DEEPTRAIN (built here unless the caller named a binary), `extra` (train options from TRAIN_BATCHES:
# --overfit-batches N, and the words of EXTRA) and `work` (a scratch folder removed on exit).
if [[ -z "${DEEPTRAIN:-}" ]]; then
  dotnet build src/DeepTrain.Cli -c Release -v quiet -nologo -clp:NoSummary >/dev/null
  DEEPTRAIN=src/DeepTrain.Cli/bin/Release/net10.0/deeptrain
fi
extra=()
[[ -n "${TRAIN_BATCHES:-}" ]] && extra+=(--overfit-batches "$TRAIN_BATCHES")
# shellcheck disable=SC2206  # EXTRA is a list of words on purpose
[[ -n "${EXTRA:-}" ]] && extra+=($EXTRA)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
