// The C++ side of the fetchgit-date Nix plugin: registers builtins.fetchGitDate and hands every
// call to Rust (src/lib.rs) over a small C ABI (src/abi.h). It knows Nix's API and nothing about
// git: it forces the argument set into JSON, gives Rust callbacks into the evaluator's own store,
// logger and settings, and turns Rust's JSON answer into the attribute set, with `outPath`
// carrying the same string context as fetchGit's. Every Nix exception is caught before it could
// cross into Rust; Rust never unwinds into here.
//
// Compiled by build.rs against the headers of one Nix or Lix release, with FGD_NIX_MAJOR/MINOR
// (Nix) or FGD_LIX_MAJOR/MINOR (Lix, with FGD_LIX=1) and FGD_NIX_VERSION set from it. API
// differences between releases are the FGD_* macros and fgd* helpers below, each with the first
// release that has it, read from that release's headers (../shared/nix-src has every line).
// Lix took its own road at Nix 2.18 and has its own branch of each helper.

#define FGD_NIX_AT_LEAST(major, minor) \
    (!FGD_LIX && (FGD_NIX_MAJOR > (major) || (FGD_NIX_MAJOR == (major) && FGD_NIX_MINOR >= (minor))))
#define FGD_LIX_AT_LEAST(major, minor) \
    (FGD_LIX && (FGD_LIX_MAJOR > (major) || (FGD_LIX_MAJOR == (major) && FGD_LIX_MINOR >= (minor))))

#if FGD_LIX
// Lix (every release from 2.93): headers under lix/lib<component>/; the store is asynchronous
// (kj promises, waited for with state.aio.blockOn); the evaluator's shared parts are state.ctx.
#  include <lix/libexpr/eval.hh>
#  include <lix/libexpr/eval-inline.hh>
#  include <lix/libexpr/primops.hh>
#  include <lix/libexpr/json-to-value.hh>
#  include <lix/libexpr/eval-settings.hh>
#  include <lix/libstore/store-api.hh>
#  include <lix/libstore/globals.hh>
#  include <lix/libutil/async-io.hh>
#  include <lix/libutil/logging.hh>
#  include <lix/libutil/terminal.hh>
// Headers moved to nix/<library>/... in Nix 2.28.
#elif FGD_NIX_AT_LEAST(2, 28)
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

// Positions: `const Pos &` up to 2.9, an index into the position table from 2.10 (and Lix).
#if FGD_LIX || FGD_NIX_AT_LEAST(2, 10)
typedef const PosIdx FgdPos;
#else
typedef const Pos & FgdPos;
#endif

// Value accessors became methods (v.attrs(), v.integer()) in Nix 2.24 and Lix 2.94; NixInt
// became a checked wrapper (checked::Checked<int64_t>, the number in .value) in Nix 2.25 (its
// "integer overflow is an error" change; 2.24.15's headers have a plain int64_t) and is one in
// every Lix release.
#if FGD_LIX_AT_LEAST(2, 94) || FGD_NIX_AT_LEAST(2, 24)
#  define FGD_ATTRS(v) ((v).attrs())
#  define FGD_BOOL(v) ((v).boolean())
#  if FGD_LIX || FGD_NIX_AT_LEAST(2, 25)
#    define FGD_INT(v) ((v).integer().value)
#  else
#    define FGD_INT(v) ((v).integer())
#  endif
#elif FGD_LIX
#  define FGD_ATTRS(v) ((v).attrs)
#  define FGD_INT(v) ((v).integer.value)
#  define FGD_BOOL(v) ((v).boolean)
#else
#  define FGD_ATTRS(v) ((v).attrs)
#  define FGD_INT(v) ((v).integer)
#  define FGD_BOOL(v) ((v).boolean)
#endif

// List elements: Value * [] up to Nix 2.29; from 2.30 (Value shrank to 16 bytes, small lists
// live inside the Value) only through listView(). Lix 2.94 stores the elements themselves
// (Value[]), Lix 2.93 pointers.
#if FGD_NIX_AT_LEAST(2, 30)
#  define FGD_LIST_ELEM(v, i) (*(v).listView()[i])
#elif FGD_LIX_AT_LEAST(2, 94)
#  define FGD_LIST_ELEM(v, i) ((v).listElems()[i])
#else
#  define FGD_LIST_ELEM(v, i) (*(v).listElems()[i])
#endif

// An attribute's value: a Value * in Nix and in Lix up to 2.93, the Value itself from Lix 2.94.
#if FGD_LIX_AT_LEAST(2, 94)
#  define FGD_ATTR_VALUE(attr) ((attr).value)
#else
#  define FGD_ATTR_VALUE(attr) (*(attr).value)
#endif

// String contexts became typed elements in 2.14.
#if FGD_LIX || FGD_NIX_AT_LEAST(2, 14)
typedef NixStringContext FgdContext;
#else
typedef PathSet FgdContext;
#endif

// The symbol `outPath`: state.sOutPath; state.s.outPath from Nix 2.32 (static symbols); Lix:
// state.ctx.s.outPath, state.ctx.symbols.sym_outPath from Lix 2.95.
static Symbol fgdOutPathSymbol(EvalState & state)
{
#if FGD_LIX_AT_LEAST(2, 95)
    return state.ctx.symbols.sym_outPath;
#elif FGD_LIX
    return state.ctx.s.outPath;
#elif FGD_NIX_AT_LEAST(2, 32)
    return state.s.outPath;
#else
    return state.sOutPath;
#endif
}

// The evaluator's symbol table, store and path checks: on EvalState in Nix, on the shared
// evaluator (state.ctx) in Lix.
#if FGD_LIX
#  define FGD_EVAL(state) ((state).ctx)
#  define FGD_PATHS(state) ((state).ctx.paths)
#else
#  define FGD_EVAL(state) (state)
#  define FGD_PATHS(state) (state)
#endif

static bool fgdPureEval(EvalState & state)
{
#if FGD_LIX
    (void) state;
    return evalSettings.pureEval;
#elif FGD_NIX_AT_LEAST(2, 24)
    return state.settings.pureEval;
#else
    (void) state;
    return evalSettings.pureEval;
#endif
}

static bool fgdRestrictEval(EvalState & state)
{
#if FGD_LIX
    (void) state;
    return evalSettings.restrictEval;
#elif FGD_NIX_AT_LEAST(2, 24)
    return state.settings.restrictEval;
#else
    (void) state;
    return evalSettings.restrictEval;
#endif
}

static std::string fgdAttrName(EvalState & state, const Attr & attr)
{
#if FGD_LIX || FGD_NIX_AT_LEAST(2, 10)
    return std::string(std::string_view(FGD_EVAL(state).symbols[attr.name]));
#else
    (void) state;
    return attr.name;
#endif
}

static std::string fgdCoerce(EvalState & state, FgdPos pos, Value & v)
{
    FgdContext context; // dropped, as fetchGit drops the context of its arguments
#if FGD_LIX_AT_LEAST(2, 94)
    // Lix 2.94 names the coercion mode (Strict is Nix's coerceMore = false).
    return state.coerceToString(pos, v, context, "while evaluating an argument of fetchGitDate", StringCoercionMode::Strict, false).toOwned();
#elif FGD_LIX || FGD_NIX_AT_LEAST(2, 13)
    return state.coerceToString(pos, v, context, "while evaluating an argument of fetchGitDate", false, false).toOwned();
#else
    return state.coerceToString(pos, v, context, false, false).toOwned();
#endif
}

[[noreturn]] static void fgdThrow(EvalState & state, FgdPos pos, const std::string & message)
{
#if FGD_LIX
    state.ctx.errors.make<EvalError>("%s", message).atPos(pos).debugThrow();
#elif FGD_NIX_AT_LEAST(2, 20)
    state.error<EvalError>("%s", message).atPos(pos).debugThrow();
#else
    (void) state;
    throw EvalError({.msg = hintfmt("%s", message), .errPos = pos});
#endif
}

// outPath: the store path as a string whose context is that path, as fetchGit's.
static void fgdMkStorePathString(EvalState & state, Value & v, const std::string & printed)
{
#if FGD_LIX
    state.ctx.paths.mkStorePathString(state.ctx.store->parseStorePath(printed), v);
#elif FGD_NIX_AT_LEAST(2, 33)
    // Strings are allocated in the evaluator's memory (EvalMemory) from 2.33.
    v.mkString(printed, NixStringContext{NixStringContextElem::Opaque{.path = state.store->parseStorePath(printed)}}, state.mem);
#elif FGD_NIX_AT_LEAST(2, 14)
    v.mkString(printed, NixStringContext{NixStringContextElem::Opaque{.path = state.store->parseStorePath(printed)}});
#else
    (void) state;
    v.mkString(printed, PathSet{printed});
#endif
}

static void fgdMkAttrs(Value & v, BindingsBuilder & bindings)
{
#if FGD_LIX_AT_LEAST(2, 95)
    // Lix 2.95 builds values by constructor only.
    v = Value(NewValueAs::attrs, bindings);
#else
    v.mkAttrs(bindings);
#endif
}

// Lix's store answers with promises; Nix's directly.
#if FGD_LIX
#  define FGD_STORE_WAIT(state, call) ((state).aio.blockOn(call))
#else
#  define FGD_STORE_WAIT(state, call) (call)
#endif

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
                encodeValue(state, pos, FGD_ATTR_VALUE(attr), out, depth + 1);
            }
            out += '}';
            break;
        }
        case nList:
            if (depth >= 4) break;
            out += ",\"v\":[";
            for (size_t i = 0; i < v.listSize(); i++) {
                if (i) out += ',';
                encodeValue(state, pos, FGD_LIST_ELEM(v, i), out, depth + 1);
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
        FGD_PATHS(static_cast<CallContext *>(ctx)->state).checkURI(std::string(uri, len));
        return 0;
    } catch (const std::exception & e) {
        setError(set, err, e);
        return -1;
    }
}

static int isValidPath(void * ctx, const char * path, size_t len, FgdSetString set, void * err)
{
    try {
        auto & state = static_cast<CallContext *>(ctx)->state;
        auto & store = *FGD_EVAL(state).store;
        auto storePath = store.parseStorePath(std::string(path, len));
        // Keeps the path alive for this evaluation, as the fetcher cache does before it trusts
        // a path it remembers.
        FGD_STORE_WAIT(state, store.addTempRoot(storePath));
        return FGD_STORE_WAIT(state, store.isValidPath(storePath)) ? 1 : 0;
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
        auto & state = static_cast<CallContext *>(ctx)->state;
        auto & store = *FGD_EVAL(state).store;
        RustNarSource source;
        source.readFn = readFn;
        source.reader = reader;
        // The defaults are the NAR, recursive (NAR) content addressing and SHA-256 in every
        // release: the same path as fetchGit's, `nix-store --add-fixed --recursive sha256`.
#if FGD_LIX
        // Lix reads the NAR through an asynchronous stream.
        AsyncSourceInputStream stream(source);
        auto path = state.aio.blockOn(store.addToStoreFromDump(stream, std::string_view(name, nameLen)));
#else
        auto path = store.addToStoreFromDump(source, std::string_view(name, nameLen));
#endif
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
#if FGD_LIX_AT_LEAST(2, 94)
        // Lix 2.94 starts activities through the logger only.
        activities[id] = std::make_unique<Activity>(logger->startActivity(lvlInfo, actUnknown, std::string(text, len)));
#else
        activities[id] = std::make_unique<Activity>(*logger, lvlInfo, actUnknown, std::string(text, len));
#endif
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
#if FGD_LIX_AT_LEAST(2, 94)
        // Lix 2.94 replaced warn() with this macro.
        printTaggedWarning("%s", std::string(text, len));
#else
        warn("%s", std::string(text, len));
#endif
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

#if FGD_LIX
// Lix's primops get no position.
static void primFetchGitDate(EvalState & state, Value * * args, Value & v)
{
    const PosIdx pos = noPos;
#else
static void primFetchGitDate(EvalState & state, FgdPos pos, Value * * args, Value & v)
{
#endif
    std::string argsJson;
    encodeValue(state, pos, *args[0], argsJson, 0);
    CallContext ctx{state};
#if FGD_LIX
    // Lix's store settings are its config().
    auto storeDir = state.ctx.store->config().storeDir;
#else
    auto storeDir = state.store->storeDir;
#endif
#if FGD_LIX
    // Lix's builtins.nixVersion is always 2.18.3-lix; the library names a Lix release by its
    // own number with -lix (nixVersion is Lix's release, 2.95.3).
    auto runningVersion = nixVersion + "-lix";
#else
    auto & runningVersion = nixVersion;
#endif
    FgdHost host{};
    host.ctx = &ctx;
    host.nix_version = runningVersion.c_str();
    host.store_dir = storeDir.c_str();
    host.pure_eval = fgdPureEval(state) ? 1 : 0;
    host.restrict_eval = fgdRestrictEval(state) ? 1 : 0;
    host.check_uri = checkUri;
    host.is_valid_path = isValidPath;
    host.add_nar = addNar;

    std::string answer;
    if (fgd_fetch_git_date(&host, argsJson.data(), argsJson.size(), setStdString, &answer) != 0)
        fgdThrow(state, pos, "fetchGitDate: " + answer);

    // {"storePath": "...", "attrs": {...}}: attrs become the result, outPath with context.
    Value parsed;
    parseJSON(state, answer, parsed);
    auto storePathAttr = FGD_ATTRS(parsed)->get(FGD_EVAL(state).symbols.create("storePath"));
    auto attrsAttr = FGD_ATTRS(parsed)->get(FGD_EVAL(state).symbols.create("attrs"));
    if (!storePathAttr || !attrsAttr) fgdThrow(state, pos, "fetchGitDate: internal error: malformed answer from Rust");
    auto storePath = fgdCoerce(state, pos, FGD_ATTR_VALUE(*storePathAttr));
    FGD_PATHS(state).allowPath(FGD_EVAL(state).store->parseStorePath(storePath));

    auto & attrs = FGD_ATTR_VALUE(*attrsAttr);
    auto outPath = fgdOutPathSymbol(state);
    auto bindings = FGD_EVAL(state).buildBindings(FGD_ATTRS(attrs)->size() + 1);
    for (auto & attr : *FGD_ATTRS(attrs))
        if (attr.name != outPath) bindings.insert(attr.name, attr.value);
    fgdMkStorePathString(state, bindings.alloc(outPath), storePath);
    fgdMkAttrs(v, bindings);
}

static const char * fetchGitDateDoc = R"(
  `builtins.fetchGitDate` (fetchgit-date's plugin) takes `builtins.fetchGit`'s arguments plus
  `date`, `interval`, `firstParent`, `compat`, `rootFallback` and `nixVersion`, and returns
  fetchGit's attributes for the last commit at or before the date or interval boundary, plus
  `truncation`. See fetchgit-date's docs/nix.md.
)";

#if FGD_LIX
#  define FGD_IMPLEMENTATION "Lix"
#else
#  define FGD_IMPLEMENTATION "Nix"
#endif

extern "C" void fgd_register()
{
    static bool registered = false;
    if (registered) return;
    registered = true;
    // The ABI is that of the exact headers this was compiled against: in another release the
    // layouts of EvalState, Value and the store may differ (Value shrank from 24 to 16 bytes in
    // Nix 2.30), and using them corrupts memory. Nothing of the evaluator is touched before this.
    if (nixVersion != FGD_NIX_VERSION) {
        fprintf(stderr,
            "warning: fetchgit-date plugin: built for " FGD_IMPLEMENTATION " %s, but this is " FGD_IMPLEMENTATION " %s: builtins.fetchGitDate is not registered; rebuild the plugin against this Nix\n",
            FGD_NIX_VERSION, nixVersion.c_str());
        return;
    }
    fgd_plugin_loaded(activityStart, activityProgress, activityStop, fgdWarn, fgdDebug);
#if FGD_LIX_AT_LEAST(2, 95)
    // Lix 2.95 removed RegisterPrimOp: plugins add primops from nix_plugin_entry (lib.rs calls
    // this from there too), before the evaluator builds its builtins.
    PluginPrimOps::add({
#elif FGD_LIX_AT_LEAST(2, 94)
    new RegisterPrimOp(PrimOpDetails{
#elif FGD_LIX || FGD_NIX_AT_LEAST(2, 14)
    new RegisterPrimOp(PrimOp{
#else
    new RegisterPrimOp(RegisterPrimOp::Info{
#endif
        .name = "__fetchGitDate",
        .args = {"args"},
        .arity = 1,
        .doc = fetchGitDateDoc,
        // PrimOp::fun was renamed impl in Nix 2.34.
#if FGD_NIX_AT_LEAST(2, 34)
        .impl = primFetchGitDate,
#else
        .fun = primFetchGitDate,
#endif
    });
}

// Nix registers primops from static constructors when it dlopens the plugin (and calls
// nix_plugin_entry from 2.22); Lix calls nix_plugin_entry (defined in lib.rs, so that it is
// exported), which calls fgd_register again: whichever comes first registers.
static struct Registration { Registration() { fgd_register(); } } registration;
