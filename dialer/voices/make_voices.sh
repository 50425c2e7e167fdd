#!/bin/sh
# The simulated customers' voices and the recording notice (`make voices`): espeak-ng speaks, sox makes
# 8 kHz mono 16-bit WAVs. Run once; the WAVs are committed, so nothing here is
# needed at run time.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

say() {  # say LANG NAME TEXT...: one line, 8 kHz mono, normalised to -3 dBFS
    lang=$1 name=$2
    shift 2
    espeak-ng -v "$lang" -s 150 -w "$tmp/$lang-$name.raw.wav" "$*"
    sox "$tmp/$lang-$name.raw.wav" -r 8000 -c 1 -b 16 "$tmp/$lang-$name.wav" \
        silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse norm -3
}

pause() { sox -n -r 8000 -c 1 -b 16 "$tmp/pause-$1.wav" trim 0 "$1"; }
beep() { sox -n -r 8000 -c 1 -b 16 "$tmp/beep.wav" synth 0.6 sine 1000 vol 0.5; }

pause 0.8
pause 0.4
beep

say en hello1 "Hello?"
say en hello2 "Yes, who is calling?"
sox "$tmp/en-hello1.wav" "$tmp/pause-0.8.wav" "$tmp/en-hello2.wav" en-hello.wav
say en machine "Hi, you have reached Sara. I can't take your call right now. Please leave a message after the tone."
sox "$tmp/en-machine.wav" "$tmp/pause-0.4.wav" "$tmp/beep.wav" en-machine.wav
say en consent "This call is recorded for quality and training. If you would rather it were not, just tell us."
cp "$tmp/en-consent.wav" en-consent.wav
say en goodbye "All right, thank you. Goodbye."
cp "$tmp/en-goodbye.wav" en-goodbye.wav

say fa hello1 "الو؟"
say fa hello2 "بله، بفرمایید. شما؟"
sox "$tmp/fa-hello1.wav" "$tmp/pause-0.8.wav" "$tmp/fa-hello2.wav" fa-hello.wav
say fa machine "سلام، با پیغامگیر سارا تماس گرفته‌اید. لطفاً بعد از صدای بوق پیغام بگذارید."
sox "$tmp/fa-machine.wav" "$tmp/pause-0.4.wav" "$tmp/beep.wav" fa-machine.wav
say fa consent "این تماس برای کنترل کیفیت ضبط می‌شود. اگر موافق نیستید، به همکار ما بگویید."
cp "$tmp/fa-consent.wav" fa-consent.wav
say fa goodbye "باشه، ممنون. خداحافظ."
cp "$tmp/fa-goodbye.wav" fa-goodbye.wav
