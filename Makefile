# The README's commands.  Each installs what it needs on a fresh Debian machine with Python 3.11.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA ?= ../shared/data
PREPARED ?= .prepared/pop909
GROOVE ?= .prepared/groove

export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1

.PHONY: install system-deps test test-fast demo bench app data quality screenshots

# libfluidsynth is a Debian package (pyfluidsynth is only ctypes): install it when missing.
# The `fluidsynth` package brings libfluidsynth3 (built with libsndfile, so .sf3 SoundFonts
# load) and the command line that the render tests and benchmark compare against.
# --no-install-recommends skips qsynth and its Qt/GTK stack.
# MuseScore 3 (Debian `musescore3`) is the notation reader the tests open our MIDI and
# MusicXML in, headless (QT_QPA_PLATFORM=offscreen); --no-install-recommends keeps it to
# its Qt libraries.
system-deps:
	@if ! ldconfig -p 2>/dev/null | grep -q libfluidsynth || ! command -v fluidsynth >/dev/null; then \
	  echo "installing Debian package fluidsynth"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    --no-install-recommends fluidsynth >/dev/null; \
	fi
	@if ! command -v mscore3 >/dev/null; then \
	  echo "installing Debian package musescore3"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    --no-install-recommends -o DPkg::Lock::Timeout=600 musescore3 >/dev/null; \
	fi
	@# The app's browser tests drive Debian's chromium through Playwright (pip); Playwright's
	@# own browser download (`playwright install`) is never used.
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing Debian package chromium"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    --no-install-recommends -o DPkg::Lock::Timeout=600 chromium >/dev/null; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch pinned: the local CPU wheel; an unpinned torch pulls gigabytes of CUDA.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

install: system-deps $(STAMP)

# COMPOSER_REQUIRE_BROWSER=1: the browser tests fail, not skip, if chromium or Playwright is missing.
# lint-imports: the layering contracts of pyproject.toml ([tool.importlinter]).
test: install
	$(VENV)/bin/lint-imports
	COMPOSER_REQUIRE_BROWSER=1 $(PY) -m pytest -q

test-fast: install
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -m 'not slow'

data: install
	$(VENV)/bin/composer data pop909 --root $(DATA) --out $(PREPARED)
	$(VENV)/bin/composer data groove --root $(DATA) --out $(GROOVE)

bench: install
	$(PY) -m benchmarks

# A whole song from nothing with the shipped models (form, chords, melody, notes, drums): MIDI + audio in out/.
# The seed it used is printed; `composer generate --seed S` writes the same song again.
demo: install
	mkdir -p out
	$(VENV)/bin/composer generate --force -o out/demo.mid --audio out/demo.wav

# The web app on http://127.0.0.1:7860 (GRADIO_TEMP_DIR keeps uploads inside out/).
app: install
	GRADIO_TEMP_DIR=$(CURDIR)/out/gradio-tmp $(PY) app.py

# The README's pictures (docs/img/): the app in chromium and `composer plot`, seeded.
screenshots: install
	$(PY) docs/screenshots.py


# The models' quality figures (needs `make data`): levels on the test split; 200 songs from the
# whole cascade on the test songs' forms, keys and tempi, 200 from the seed alone (100 left two
# figures within sampling noise of their bounds), and 100 from
# the melody and note levels on the real chords, each judged by `composer eval`; the drum level
# on the cascade's songs against the Groove MIDI test split (beside real-vs-real); the music
# targets table; the pipeline benchmark; the model cards rewritten from the results.
quality: install
	$(PY) -m benchmarks.bench_levels --quality --cards
	rm -rf out/eval/cascade out/eval/nothing out/eval/real_chords
	$(PY) -m benchmarks.quality_notes --data $(PREPARED) --out out/eval/cascade --n 200
	$(PY) -m benchmarks.quality_notes --data $(PREPARED) --out out/eval/nothing --n 200 --nothing
	$(PY) -m benchmarks.quality_notes --data $(PREPARED) --out out/eval/real_chords --n 100 --real-chords
	$(VENV)/bin/composer eval out/eval/cascade --reference $(PREPARED)@test --train $(PREPARED)@train --json out/eval/cascade.json --force
	$(VENV)/bin/composer eval out/eval/nothing --reference $(PREPARED)@test --train $(PREPARED)@train --json out/eval/nothing.json --force
	$(VENV)/bin/composer eval out/eval/real_chords --reference $(PREPARED)@test --train $(PREPARED)@train --json out/eval/real_chords.json --force
	$(PY) -m benchmarks.quality_drums --songs out/eval/cascade --out out/eval/drums --groove $(GROOVE)
	$(PY) -m benchmarks.music_targets --markdown out/eval/music_targets.md
	$(PY) -m benchmarks pipeline
	$(PY) -m benchmarks.notes_card --readme
