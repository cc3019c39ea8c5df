/* The C ABI between the C++ shim (shim.cc) and Rust (lib.rs, host.rs). Rust's declarations of
 * the same items are in host.rs; keep both in step. Strings are (pointer, length) pairs, not
 * NUL-terminated, except the host's nix_version and store_dir. Strings going back are written
 * through an FgdSetString callback into the caller's own string object. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*FgdSetString)(void * target, const char * data, size_t len);
/* Reads up to len bytes of the NAR into buf: the count, 0 at the end, -1 on error. */
typedef ssize_t (*FgdReadFn)(void * reader, char * buf, size_t len);

/* What one call may use of the evaluator. Status: 0 ok, -1 error (message through set). */
typedef struct FgdHost {
    void * ctx;
    const char * nix_version;
    const char * store_dir;
    int pure_eval;
    int restrict_eval;
    /* EvalState::checkURI: the restrict-eval rules fetchGit applies to its url. */
    int (*check_uri)(void * ctx, const char * uri, size_t len, FgdSetString set_err, void * err);
    /* 1 valid, 0 not valid, -1 error; registers a temporary GC root first. */
    int (*is_valid_path)(void * ctx, const char * path, size_t len, FgdSetString set_err, void * err);
    /* Store::addToStoreFromDump of the NAR read through read_fn; writes the store path (or the error). */
    int (*add_nar)(void * ctx, const char * name, size_t len, FgdReadFn read_fn, void * reader, FgdSetString set, void * out);
} FgdHost;

typedef uint64_t (*FgdActivityStart)(const char * text, size_t len);
typedef void (*FgdActivityProgress)(uint64_t id, uint64_t done, uint64_t expected);
typedef void (*FgdActivityStop)(uint64_t id);
typedef void (*FgdWarn)(const char * text, size_t len);

/* Shim: registers builtins.fetchGitDate unless the running Nix is another release; idempotent. */
void fgd_register(void);

/* Rust: called once when the plugin is registered, with Nix's logger. */
void fgd_plugin_loaded(FgdActivityStart start, FgdActivityProgress progress, FgdActivityStop stop, FgdWarn warn, FgdWarn debug);

/* Rust: one call of builtins.fetchGitDate. args: the JSON of the forced argument. Returns 0 and
 * writes {"storePath": ..., "attrs": {...}}, or 1 and writes the one-line error message. */
int fgd_fetch_git_date(const FgdHost * host, const char * args, size_t len, FgdSetString set, void * out);

#ifdef __cplusplus
}
#endif
