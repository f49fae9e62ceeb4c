#!/bin/sh
# Builds the seed corpora (fuzz/corpus/ is git-ignored):
#   corpus/validate_bytes/  {"request": <test_data/requests/*.json>, "settings": <seeds/settings/*.json>}
#   corpus/settings/        seeds/settings/*.json
#   corpus/structured/      (libFuzzer starts from nothing; the generators read any bytes)
# Plain string concatenation: no jq or python needed on a fresh CI machine.
set -eu
fuzz_dir=$(cd "$(dirname "$0")" && pwd)
test_data="$fuzz_dir/../test_data/requests"
corpus="$fuzz_dir/corpus"
mkdir -p "$corpus/validate_bytes" "$corpus/settings" "$corpus/structured"
for settings in "$fuzz_dir"/seeds/settings/*.json; do
    s=$(basename "$settings" .json)
    cp "$settings" "$corpus/settings/seed-$s.json"
    for request in "$test_data"/*.json; do
        r=$(basename "$request" .json)
        {
            printf '{"request":'
            cat "$request"
            printf ',"settings":'
            cat "$settings"
            printf '}'
        } > "$corpus/validate_bytes/seed-$r--$s.json"
    done
done
echo "seeds: $(ls "$corpus/validate_bytes" | grep -c '^seed-') validate_bytes, $(ls "$corpus/settings" | grep -c '^seed-') settings"
