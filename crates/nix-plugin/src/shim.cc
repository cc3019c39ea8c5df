// The C++ side of the fetchgit-date Nix plugin: registers builtins.fetchGitDate and hands every
// call to Rust (src/lib.rs) over a small C ABI (src/abi.h). It knows Nix's API and nothing about
// git: it forces the argument set into JSON, gives Rust callbacks into the evaluator's own store,
// logger and settings, and turns Rust's JSON answer into the attribute set, with `outPath`
// carrying the same string context as fetchGit's. Every Nix exception is caught before it could
// cross into Rust; Rust never unwinds into here.
//
// Compiled by build.rs against the headers of one Nix release, with FGD_NIX_MAJOR/MINOR/PATCH
// and FGD_NIX_VERSION set from it. API differences between releases are the FGD_* macros below.

#define FGD_NIX_AT_LEAST(major, minor) \
    (FGD_NIX_MAJOR > (major) || (FGD_NIX_MAJOR == (major) && FGD_NIX_MINOR >= (minor)))

// Headers moved to nix/<library>/... in Nix 2.28.
#if FGD_NIX_AT_LEAST(2, 28)
#  include <nix/expr/eval.hh>
#  include <nix/expr/eval-inline.hh>
#  include <nix/expr/primops.hh>
#  include <nix/expr/json-to-value.hh>
#  include <nix/expr/eval-settings.hh>
#  include <nix/store/store-api.hh>
#  include <nix/store/globals.hh>
#  include <nix/util/logging.hh>
#  include <nix/util/terminal.hh>
#else
#  include "eval.hh"
#  include "eval-inline.hh"
#  include "primops.hh"
#  include "json-to-value.hh"
#  include "store-api.hh"
#  include "globals.hh"
#  include "logging.hh"
#  if FGD_NIX_AT_LEAST(2, 24)
#    include "eval-settings.hh"
#  endif
// filterANSIEscapes moved from util.hh to terminal.hh in 2.19.
#  if FGD_NIX_AT_LEAST(2, 19)
#    include "terminal.hh"
#  endif
#endif

#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "abi.h"

using namespace nix;

// Positions: `const Pos &` up to 2.9, an index into the position table from 2.10.
#if FGD_NIX_AT_LEAST(2, 10)
typedef const PosIdx FgdPos;
#else
typedef const Pos & FgdPos;
#endif

// Value accessors became methods (v.attrs(), v.integer()) in 2.24.
#if FGD_NIX_AT_LEAST(2, 24)
#  define FGD_ATTRS(v) ((v).attrs())
#  define FGD_INT(v) ((v).integer().value)
#  define FGD_BOOL(v) ((v).boolean())
#else
#  define FGD_ATTRS(v) ((v).attrs)
#  define FGD_INT(v) ((v).integer)
#  define FGD_BOOL(v) ((v).boolean)
#endif

// String contexts became typed elements in 2.14.
#if FGD_NIX_AT_LEAST(2, 14)
typedef NixStringContext FgdContext;
#else
typedef PathSet FgdContext;
#endif

static const EvalSettings & fgdEvalSettings(EvalState & state)
{
#if FGD_NIX_AT_LEAST(2, 24)
    return state.settings;
#else
    (void) state;
    return evalSettings;
#endif
}

static std::string fgdAttrName(EvalState & state, const Attr & attr)
{
#if FGD_NIX_AT_LEAST(2, 10)
    return std::string(std::string_view(state.symbols[attr.name]));
#else
    (void) state;
    return attr.name;
#endif
}

static std::string fgdCoerce(EvalState & state, FgdPos pos, Value & v)
{
    FgdContext context; // dropped, as fetchGit drops the context of its arguments
#if FGD_NIX_AT_LEAST(2, 13)
    return state.coerceToString(pos, v, context, "while evaluating an argument of fetchGitDate", false, false).toOwned();
#else
    return state.coerceToString(pos, v, context, false, false).toOwned();
#endif
}

[[noreturn]] static void fgdThrow(EvalState & state, FgdPos pos, const std::string & message)
{
#if FGD_NIX_AT_LEAST(2, 20)
    state.error<EvalError>("%s", message).atPos(pos).debugThrow();
#else
    (void) state;
    throw EvalError({.msg = hintfmt("%s", message), .errPos = pos});
#endif
}

static void fgdMkStorePathString(EvalState & state, Value & v, const std::string & printed)
{
#if FGD_NIX_AT_LEAST(2, 14)
    v.mkString(printed, NixStringContext{NixStringContextElem::Opaque{.path = state.store->parseStorePath(printed)}});
#else
    (void) state;
    v.mkString(printed, PathSet{printed});
#endif
}

// ---------------------------------------------------------------------------------------------
// Arguments to JSON: {"t": type, "v": value} (see src/args.rs).

static void jsonString(std::string & out, std::string_view s)
{
    out += '"';
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') { out += '\\'; out += (char) c; }
        else if (c < 0x20) { char buf[8]; snprintf(buf, sizeof buf, "\\u%04x", c); out += buf; }
        else out += (char) c;
    }
    out += '"';
}

static const char * typeName(ValueType type)
{
    switch (type) {
        case nInt: return "int";
        case nFloat: return "float";
        case nBool: return "bool";
        case nString: return "string";
        case nPath: return "path";
        case nNull: return "null";
        case nAttrs: return "set";
        case nList: return "list";
        case nFunction: return "lambda";
        case nExternal: return "external";
        default: return "thunk";
    }
}

// Forces `v` and writes it; sets and lists recursively, up to a depth no fetchGitDate argument
// needs (publicKeys: a list of sets), so that a self-referencing value cannot recurse forever.
static void encodeValue(EvalState & state, FgdPos pos, Value & v, std::string & out, int depth)
{
    state.forceValue(v, pos);
    out += "{\"t\":";
    jsonString(out, typeName(v.type()));
    switch (v.type()) {
        case nString:
        case nPath:
            out += ",\"v\":";
            jsonString(out, fgdCoerce(state, pos, v));
            break;
        case nInt:
            out += ",\"v\":" + std::to_string((long long) FGD_INT(v));
            break;
        case nBool:
            out += FGD_BOOL(v) ? ",\"v\":true" : ",\"v\":false";
            break;
        case nAttrs: {
            if (depth >= 4) break;
            out += ",\"v\":{";
            bool first = true;
            for (auto & attr : *FGD_ATTRS(v)) {
                if (!first) out += ',';
                first = false;
                jsonString(out, fgdAttrName(state, attr));
                out += ':';
                encodeValue(state, pos, *attr.value, out, depth + 1);
            }
            out += '}';
            break;
        }
        case nList:
            if (depth >= 4) break;
            out += ",\"v\":[";
            for (size_t i = 0; i < v.listSize(); i++) {
                if (i) out += ',';
                encodeValue(state, pos, *v.listElems()[i], out, depth + 1);
            }
            out += ']';
            break;
        default:
            break;
    }
    out += '}';
}

// ---------------------------------------------------------------------------------------------
// Callbacks from Rust. Each catches everything: no C++ exception may unwind through Rust.

struct CallContext
{
    EvalState & state;
};

static void setError(FgdSetString set, void * target, const std::exception & e)
{
    // Nix's own message without its "error: " header or colours, to be embedded in ours.
    std::string what = e.what();
    if (auto nixError = dynamic_cast<const BaseError *>(&e)) what = filterANSIEscapes(nixError->info().msg.str(), true);
    set(target, what.data(), what.size());
}

static int checkUri(void * ctx, const char * uri, size_t len, FgdSetString set, void * err)
{
    try {
        static_cast<CallContext *>(ctx)->state.checkURI(std::string(uri, len));
        return 0;
    } catch (const std::exception & e) {
        setError(set, err, e);
        return -1;
    }
}

static int isValidPath(void * ctx, const char * path, size_t len, FgdSetString set, void * err)
{
    try {
        auto & store = *static_cast<CallContext *>(ctx)->state.store;
        auto storePath = store.parseStorePath(std::string(path, len));
        // Keeps the path alive for this evaluation, as the fetcher cache does before it trusts
        // a path it remembers.
        store.addTempRoot(storePath);
        return store.isValidPath(storePath) ? 1 : 0;
    } catch (const std::exception & e) {
        setError(set, err, e);
        return -1;
    }
}

// Nix pulls the NAR from Rust through this Source.
struct RustNarSource : Source
{
    FgdReadFn readFn;
    void * reader;
    size_t read(char * data, size_t len) override
    {
        auto n = readFn(reader, data, len);
        if (n < 0) throw Error("fetchGitDate: the NAR stream from the repository failed");
        if (n == 0) throw EndOfFile("end of the NAR stream");
        return (size_t) n;
    }
};

static int addNar(void * ctx, const char * name, size_t nameLen, FgdReadFn readFn, void * reader, FgdSetString set, void * out)
{
    try {
        auto & store = *static_cast<CallContext *>(ctx)->state.store;
        RustNarSource source;
        source.readFn = readFn;
        source.reader = reader;
        // The defaults are the NAR, recursive (NAR) content addressing and SHA-256 in every
        // release: the same path as fetchGit's, `nix-store --add-fixed --recursive sha256`.
        auto path = store.addToStoreFromDump(source, std::string_view(name, nameLen));
        auto printed = store.printStorePath(path);
        set(out, printed.data(), printed.size());
        return 0;
    } catch (const std::exception & e) {
        setError(set, out, e);
        return -1;
    }
}

// Activities are kept here by id; Rust's progress thread may call these, and Nix's loggers
// are used from several threads in Nix itself (substitution, downloads).
static std::mutex activitiesLock;
static std::map<uint64_t, std::unique_ptr<Activity>> activities;
static uint64_t nextActivity = 1;

static uint64_t activityStart(const char * text, size_t len)
{
    try {
        std::lock_guard<std::mutex> lock(activitiesLock);
        auto id = nextActivity++;
        activities[id] = std::make_unique<Activity>(*logger, lvlInfo, actUnknown, std::string(text, len));
        return id;
    } catch (...) {
        return 0;
    }
}

static void activityProgress(uint64_t id, uint64_t done, uint64_t expected)
{
    try {
        std::lock_guard<std::mutex> lock(activitiesLock);
        if (auto i = activities.find(id); i != activities.end()) i->second->progress(done, expected);
    } catch (...) {
    }
}

static void activityStop(uint64_t id)
{
    try {
        std::lock_guard<std::mutex> lock(activitiesLock);
        activities.erase(id);
    } catch (...) {
    }
}

static void fgdWarn(const char * text, size_t len)
{
    try {
        warn("%s", std::string(text, len));
    } catch (...) {
    }
}

static void fgdDebug(const char * text, size_t len)
{
    try {
        debug("%s", std::string(text, len));
    } catch (...) {
    }
}

static void setStdString(void * target, const char * data, size_t len)
{
    static_cast<std::string *>(target)->assign(data, len);
}

// ---------------------------------------------------------------------------------------------
// The primop.

static void primFetchGitDate(EvalState & state, FgdPos pos, Value * * args, Value & v)
{
    std::string argsJson;
    encodeValue(state, pos, *args[0], argsJson, 0);
    auto & settings = fgdEvalSettings(state);
    CallContext ctx{state};
    auto storeDir = state.store->storeDir;
    FgdHost host{};
    host.ctx = &ctx;
    host.nix_version = nixVersion.c_str();
    host.store_dir = storeDir.c_str();
    host.pure_eval = settings.pureEval ? 1 : 0;
    host.restrict_eval = settings.restrictEval ? 1 : 0;
    host.check_uri = checkUri;
    host.is_valid_path = isValidPath;
    host.add_nar = addNar;

    std::string answer;
    if (fgd_fetch_git_date(&host, argsJson.data(), argsJson.size(), setStdString, &answer) != 0)
        fgdThrow(state, pos, "fetchGitDate: " + answer);

    // {"storePath": "...", "attrs": {...}}: attrs become the result, outPath with context.
    Value parsed;
    parseJSON(state, answer, parsed);
    auto storePathAttr = FGD_ATTRS(parsed)->get(state.symbols.create("storePath"));
    auto attrsAttr = FGD_ATTRS(parsed)->get(state.symbols.create("attrs"));
    if (!storePathAttr || !attrsAttr) fgdThrow(state, pos, "fetchGitDate: internal error: malformed answer from Rust");
    auto storePath = fgdCoerce(state, pos, *storePathAttr->value);
    state.allowPath(state.store->parseStorePath(storePath));

    auto & attrs = *attrsAttr->value;
    auto bindings = state.buildBindings(FGD_ATTRS(attrs)->size() + 1);
    for (auto & attr : *FGD_ATTRS(attrs))
        if (attr.name != state.sOutPath) bindings.insert(attr.name, attr.value);
    fgdMkStorePathString(state, bindings.alloc(state.sOutPath), storePath);
    v.mkAttrs(bindings);
}

static const char * fetchGitDateDoc = R"(
  `builtins.fetchGitDate` (fetchgit-date's plugin) takes `builtins.fetchGit`'s arguments plus
  `date`, `interval`, `firstParent`, `compat`, `rootFallback` and `nixVersion`, and returns
  fetchGit's attributes for the last commit at or before the date or interval boundary, plus
  `truncation`. See fetchgit-date's docs/nix.md.
)";

extern "C" void fgd_register()
{
    static bool registered = false;
    if (registered) return;
    registered = true;
    // The ABI is that of the exact headers this was compiled against: in another release the
    // layouts of EvalState, Value and the store may differ, and using them corrupts memory.
    if (nixVersion != FGD_NIX_VERSION) {
        fprintf(stderr,
            "warning: fetchgit-date plugin: built for Nix %s, but this is Nix %s: builtins.fetchGitDate is not registered; rebuild the plugin against this Nix\n",
            FGD_NIX_VERSION, nixVersion.c_str());
        return;
    }
    fgd_plugin_loaded(activityStart, activityProgress, activityStop, fgdWarn, fgdDebug);
#if FGD_NIX_AT_LEAST(2, 14)
    new RegisterPrimOp(PrimOp{
#else
    new RegisterPrimOp(RegisterPrimOp::Info{
#endif
        .name = "__fetchGitDate",
        .args = {"args"},
        .arity = 1,
        .doc = fetchGitDateDoc,
        .fun = primFetchGitDate,
    });
}

// Nix registers primops from static constructors when it dlopens the plugin; Lix calls
// nix_plugin_entry (defined in lib.rs, so that it is exported), which calls fgd_register again.
static struct Registration { Registration() { fgd_register(); } } registration;
