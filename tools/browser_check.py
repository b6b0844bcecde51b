#!/usr/bin/env python3
"""Check self-contained HTML reports in headless Chromium.

Each page must load with no script error, console error or failed load, and
every <img> must decode and every inline <svg> must be laid out with a nonzero
size.  The reports are meant to be read without JavaScript, so the original is
never touched: a checking script is injected into a temporary copy, which is
loaded with --dump-dom; the script writes its findings as JSON into the DOM and
we read them back from the dump.

Usage: python3 tools/browser_check.py [--screenshot-dir DIR] [--install] PAGE.html...
"""
import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT = 60  # seconds per chromium run; a hung browser is a failure, not a hang
RESULT_ID = "__browser_check_result__"

# Headless, no GPU, and nothing that phones home: these reports need no
# network, so background services are off and every host name fails to
# resolve, without a DNS query.  (Chromium 156 still starts a few requests,
# e.g. component update and account checks; the resolver rule fails them
# before anything leaves the machine, and a page that tries the network
# fails the check.)
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu",
    "--allow-file-access-from-files",
    "--no-first-run", "--no-default-browser-check", "--disable-extensions",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-default-apps", "--disable-domain-reliability",
    "--disable-client-side-phishing-detection", "--disable-breakpad",
    "--no-pings", "--metrics-recording-only",
    "--disable-features=NetworkTimeServiceQuerying",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--hide-scrollbars", "--window-size=1280,1600",
]

# Injected first thing in <head> of the copy, so it sees every error.  The
# <base> makes relative URLs resolve against the original's folder.
# Errors: window 'error' in the capture phase gets both script errors and
# failed loads of <img>/<script>/<link> (these do not bubble); console.error
# is wrapped.  (Chromium's own stderr log is no help here: it marks every
# console message INFO and does not report failed file:// loads at all.)
# After 'load' (which waits for all images) it records what it found.
# It is put in as one line, so that error line numbers match the original.
PROBE = """<base href="%(base)s"><script>(function () {
  var errors = [];
  function short(url) { return url.length > 60 ? url.slice(0, 57) + "..." : url; }
  window.addEventListener("error", function (e) {
    var t = e.target;
    if (t && t !== window && t.tagName) {
      if (t.tagName !== "IMG")  /* images get their own check below */
        errors.push("failed to load <" + t.tagName.toLowerCase() + "> " +
                    short(t.src || t.href || ""));
    } else {
      errors.push("script error: " + e.message + " (line " + e.lineno + ")");
    }
  }, true);
  window.addEventListener("unhandledrejection", function (e) {
    errors.push("unhandled rejection: " + e.reason);
  });
  var consoleError = console.error;
  console.error = function () {
    errors.push("console.error: " + Array.prototype.join.call(arguments, " "));
    return consoleError.apply(console, arguments);
  };
  window.addEventListener("load", function () {
    var badImages = [], badSvgs = [];
    var imgs = document.querySelectorAll("img");
    imgs.forEach(function (img, i) {
      var src = img.getAttribute("src") || "";
      if (!(img.complete && img.naturalWidth > 0))
        badImages.push("image #" + (i + 1) + (/^data:/.test(src) ?
          " does not decode: " : " did not load or decode: ") + short(src));
    });
    /* Open every <details> (this is a copy), so a folded figure is measured
       as it shows when unfolded.  Only outermost <svg>: nested ones are parts
       of a drawing. */
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
    var svgs = Array.prototype.filter.call(document.querySelectorAll("svg"),
      function (s) { return !s.parentElement.closest("svg"); });
    svgs.forEach(function (s, i) {
      var r = s.getBoundingClientRect();
      if (!(r.width > 0 && r.height > 0)) badSvgs.push("svg #" + (i + 1) + " has zero size");
    });
    var bodyElements = document.body ? Array.prototype.filter.call(
      document.body.querySelectorAll("*"),
      function (el) { return el.id !== "%(rid)s"; }).length : 0;
    var out = document.createElement("pre");
    out.id = "%(rid)s";
    out.textContent = JSON.stringify({images: imgs.length, svgs: svgs.length,
      badImages: badImages, badSvgs: badSvgs, bodyElements: bodyElements,
      errors: errors});
    (document.body || document.documentElement).appendChild(out);
  });
})();</script>"""


def find_browser():
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def install_chromium():
    # Debian's own package: the only browser source these machines can reach.
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    apt = sudo + ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    # apt's chatter goes to stderr, so stdout keeps only the result lines.
    subprocess.run(apt + ["update", "-q"], check=True, stdout=sys.stderr)
    subprocess.run(apt + ["install", "-y", "-q", "chromium"], check=True, stdout=sys.stderr)


def inject(page_bytes, base):
    """The page with PROBE put just inside <head> (or where <head> would be).

    Never before <!DOCTYPE>: that would switch the page to quirks mode."""
    probe = (PROBE % {"base": html.escape(base), "rid": RESULT_ID}).replace("\n", " ").encode()
    for pattern in (rb"<head\b[^>]*>", rb"<html\b[^>]*>", rb"<!doctype[^>]*>"):
        m = re.search(pattern, page_bytes, re.IGNORECASE)
        if m:
            return page_bytes[:m.end()] + probe + page_bytes[m.end():]
    return probe + page_bytes


def run_browser(browser, args, url):
    """Run one headless chromium with a fresh profile; return (rc, stdout, stderr)."""
    with tempfile.TemporaryDirectory(prefix="browser_check_profile_") as profile:
        cmd = [browser, *FLAGS, "--user-data-dir=" + profile, *args, url]
        # Own session, so on a timeout we can end the browser and its children.
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.communicate()
            return None, "", ""
        return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def check_page(browser, page, workdir):
    """Return (ok, message) for one page."""
    page = Path(page).resolve()
    if not page.is_file():
        return False, "no such file"
    copy = Path(workdir) / ("check_" + page.name)
    copy.write_bytes(inject(page.read_bytes(), page.parent.as_uri() + "/"))
    rc, out, err = run_browser(browser, ["--dump-dom"], copy.as_uri())
    if rc is None:
        return False, f"chromium timed out after {TIMEOUT}s"
    m = re.search(r'<pre id="%s">([^<]*)</pre>' % RESULT_ID, out)
    if not m:
        # Chromium's stderr is full of harmless D-Bus complaints; keep the rest.
        why = [l for l in err.splitlines() if re.search(r":(ERROR|FATAL):", l) and "dbus" not in l]
        return False, f"check script left no result (chromium exit {rc})" + (": " + why[-1] if why else "")
    r = json.loads(html.unescape(m.group(1)))
    problems = list(r["errors"])
    problems += r["badImages"] + r["badSvgs"]
    if r["bodyElements"] == 0:
        problems.append("no element in <body>")
    if problems:
        return False, "; ".join(problems)
    return True, f"{r['images']} images, {r['svgs']} svg"


def screenshot(browser, page, outdir, root):
    # Of the ORIGINAL page, untouched.  (Turning scripts off with
    # --blink-settings=scriptEnabled=false makes headless save no screenshot.)
    page = Path(page).resolve()
    # named after its path below the pages' common folder: a/index.html and b/index.html differ
    rel = os.path.relpath(page.with_suffix(""), root)
    png = Path(outdir).resolve() / (rel.replace(os.sep, "-") + ".png")
    png.unlink(missing_ok=True)  # so a stale one is not taken for success
    rc, _, _ = run_browser(browser, ["--screenshot=" + str(png)], page.as_uri())
    return png if rc == 0 and png.is_file() else None


def main():
    ap = argparse.ArgumentParser(description="Check self-contained HTML reports in headless Chromium.")
    ap.add_argument("--screenshot-dir", metavar="DIR", help="also save a PNG screenshot of each page here")
    ap.add_argument("--install", action="store_true", help="apt-get install chromium if none is found")
    ap.add_argument("pages", nargs="+", metavar="PAGE.html")
    args = ap.parse_args()

    browser = find_browser()
    if not browser and args.install:
        try:
            install_chromium()
        except (OSError, subprocess.CalledProcessError) as e:
            print(f"browser check: installing chromium failed: {e}")
            return 1
        browser = find_browser()
    if not browser:
        # Not a failure: machines without a browser can still run the rest.
        print("browser check skipped: no chromium (apt install chromium)")
        return 0

    if args.screenshot_dir:
        os.makedirs(args.screenshot_dir, exist_ok=True)
    failed = 0
    root = os.path.commonpath([str(Path(p).resolve().parent) for p in args.pages])
    with tempfile.TemporaryDirectory(prefix="browser_check_") as workdir:
        for page in args.pages:
            ok, msg = check_page(browser, page, workdir)
            if args.screenshot_dir and Path(page).is_file() and not screenshot(browser, page, args.screenshot_dir, root):
                ok, msg = False, msg + "; screenshot failed"
            failed += not ok
            print(f"{'ok  ' if ok else 'FAIL '}{page}: {msg}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
