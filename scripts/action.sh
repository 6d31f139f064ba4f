#!/usr/bin/env bash
# The GitHub Action's work (action.yml runs it; tests run it locally): on a pull request,
#  1. `cachegen check`: the checked-in outputs match the spec;
#  2. `cachegen breaking --against <base>`: no unapproved change harms the live cache;
#  3. the job summary gets both verdicts, the `cachegen diff` of the outputs since the
#     base, and the `cachegen docs` page.
# Problems become annotations on the pull request (--error-format github). Exits 1 when
# the outputs are stale, a breaking change is not allowed, or a spec has problems.
#
# Environment (action.yml sets it from the inputs):
#   CACHEGEN             the cachegen binary (default: cachegen on PATH)
#   CACHEGEN_SPEC        the spec (default: cachegen's, cachegen.yaml else cache.yaml)
#   CACHEGEN_BASE_REF    the revision to compare with (empty: skip the breaking check
#                        and the diff), such as origin/main; it must have been fetched
#   CACHEGEN_ALLOW       classes of breaking change to accept, separated by spaces
#   GITHUB_STEP_SUMMARY  the job summary file (default: none)
set -uo pipefail

cachegen=${CACHEGEN:-cachegen}
spec=${CACHEGEN_SPEC:-}
base=${CACHEGEN_BASE_REF:-}
summary=${GITHUB_STEP_SUMMARY:-/dev/null}
spec_args=()
[[ -n "$spec" ]] && spec_args=("$spec")
allow_args=()
for class in ${CACHEGEN_ALLOW:-}; do
  allow_args+=(--allow "$class")
done
failed=0
scratch=$(mktemp -d)
worktree=""
cleanup() {
  [[ -n "$worktree" ]] && git worktree remove --force "$worktree" >/dev/null 2>&1
  rm -rf "$scratch"
}
trap cleanup EXIT

# A fenced block of a file's text in the summary.
fenced() { # language file
  echo "\`\`\`$1"
  cat "$2"
  echo "\`\`\`"
}

echo "## cachegen" >>"$summary"

echo "::group::cachegen check"
"$cachegen" --error-format github check "${spec_args[@]}" >"$scratch/check" 2>&1
status=$?
cat "$scratch/check"
echo "::endgroup::"
if [[ $status -eq 0 ]]; then
  echo "✅ The generated outputs match the spec." >>"$summary"
else
  failed=1
  {
    echo "❌ The generated outputs do not match the spec: run \`cachegen build\` and commit them."
    fenced text "$scratch/check"
  } >>"$summary"
fi

if [[ -n "$base" ]]; then
  echo "::group::cachegen breaking --against $base"
  "$cachegen" --error-format github breaking "${spec_args[@]}" --against "$base" \
    "${allow_args[@]}" --format text >"$scratch/breaking" 2>&1
  status=$?
  # The annotations: the same comparison, one workflow command per change.
  "$cachegen" breaking "${spec_args[@]}" --against "$base" "${allow_args[@]}" \
    --format github 2>/dev/null
  cat "$scratch/breaking"
  echo "::endgroup::"
  {
    echo
    echo "### Changes to the live cache since \`$base\`"
    if [[ $status -eq 0 ]]; then
      echo "✅ No unapproved breaking change."
    else
      failed=1
      echo "❌ Breaking changes: allow each intended class (the action's \`allow\` input), or change the spec."
    fi
    fenced text "$scratch/breaking"
  } >>"$summary"

  # The outputs since the base: the base's outputs, built in a worktree of it, then
  # diffed against the head's spec there.
  worktree="$scratch/base"
  spec_path=$spec
  if [[ -z "$spec_path" ]]; then # cachegen's default, as the CLI picks it
    spec_path=cache.yaml
    [[ -f cachegen.yaml || ! -f cache.yaml ]] && spec_path=cachegen.yaml
  fi
  prefix=$(git rev-parse --show-prefix)
  if git worktree add --quiet --detach "$worktree" "$base" >/dev/null 2>&1 &&
    [[ -f "$worktree/$prefix$spec_path" ]] &&
    "$cachegen" build "$worktree/$prefix$spec_path" >/dev/null 2>&1; then
    cp "$spec_path" "$worktree/$prefix$spec_path"
    "$cachegen" diff "$worktree/$prefix$spec_path" >"$scratch/diff" 2>&1
    {
      echo
      echo "### Outputs since \`$base\`"
      echo "<details><summary>cachegen diff</summary>"
      echo
      fenced diff <(sed "s#$worktree/$prefix##g" "$scratch/diff")
      echo
      echo "</details>"
    } >>"$summary"
  else
    printf '\nNo outputs to compare: %s has no spec at %s that builds.\n' "$base" "$spec_path" >>"$summary"
  fi
fi

echo "::group::cachegen docs"
if "$cachegen" --error-format github docs "${spec_args[@]}" --out - >"$scratch/docs" 2>"$scratch/docs.err"; then
  {
    echo
    cat "$scratch/docs"
  } >>"$summary"
else
  failed=1
  cat "$scratch/docs.err"
fi
echo "::endgroup::"

exit $failed
