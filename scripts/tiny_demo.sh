# Sourced by scripts/quickstart.sh and scripts/compare_objectives.sh: the steps both take on the tiny smoke models.
# Expects the current directory to be the repository and .venv to be set up (scripts/setup.sh).
C2=.venv/bin/c2

# restart_if_made_by_another_version OUT FOLDER...: a rerun resumes where it stopped; a folder made by another
# version of the toolkit starts again, because its build ids and settings may have changed (the steps would refuse
# to mix the two). FOLDER...: what to delete under OUT then.
restart_if_made_by_another_version() {
  local out=$1 folder
  shift
  local stamp="$out/.made-by"
  local made_by
  made_by="$(.venv/bin/python -c 'import c2kit; print(c2kit.__version__)') $(git rev-parse HEAD 2>/dev/null || echo unknown)"
  if [ -d "$out/c2-syn" ] && [ "$(cat "$stamp" 2>/dev/null)" != "$made_by" ]; then
    echo "== $out was made by another version of the toolkit: starting it again"
    for folder in "$@"; do rm -rf "${out:?}/$folder"; done
  fi
  mkdir -p "$out" && echo "$made_by" > "$stamp"
}

# build_tiny_c2syn OUT: OUT/tiny-generator, the C2-Syn build OUT/c2-syn made with it, and OUT/c2-syn-demo.
build_tiny_c2syn() {
  local out=$1
  $C2 tiny-model --out "$out/tiny-generator"
  $C2 syn build --data c2eval-500 --model "$out/tiny-generator" --limit 60 --max-new-tokens 32 --out "$out/c2-syn"
  # A random generator cannot write a correction (its SYN_i are the trigger followed by noise): keep each
  # request's opener, cuts and trigger, and complete every SYN_i with the refusal an aligned model would write.
  .venv/bin/python -m c2kit.training.tiny_data --from "$out/c2-syn" --out "$out/c2-syn-demo"
}
