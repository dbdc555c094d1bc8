#include "hooklab/hooks.h"

#include <algorithm>

#include "hooklab/error.h"

namespace hooklab {

namespace {

using D = Dim;
// In firing order, indexed by Hook. Axes: [pos, model] hooks select positions and
// features; per-head hooks also heads; attention scores/patterns are [head, query, key]
// with the query as the position and the key as the feature.
const HookInfo kHooks[kHookCount] = {
    {Hook::Embed, "hook_embed", false, {D::Pos, D::DModel}, 0, -1, 1},
    {Hook::PosEmbed, "hook_pos_embed", false, {D::Pos, D::DModel}, 0, -1, 1},
    {Hook::ResidPre, "hook_resid_pre", true, {D::Pos, D::DModel}, 0, -1, 1},
    {Hook::Ln1, "ln1.hook_normalized", true, {D::Pos, D::DModel}, 0, -1, 1},
    {Hook::Qkv, "attn.hook_qkv", true, {D::Pos, D::QKV}, 0, -1, 1},
    {Hook::Q, "attn.hook_q", true, {D::Pos, D::Head, D::DHead}, 0, 1, 2},
    {Hook::K, "attn.hook_k", true, {D::Pos, D::Head, D::DHead}, 0, 1, 2},
    {Hook::V, "attn.hook_v", true, {D::Pos, D::Head, D::DHead}, 0, 1, 2},
    {Hook::AttnScores, "attn.hook_attn_scores", true, {D::Head, D::Pos, D::Key}, 1, 0, 2},
    {Hook::Pattern, "attn.hook_pattern", true, {D::Head, D::Pos, D::Key}, 1, 0, 2},
    {Hook::Z, "attn.hook_z", true, {D::Pos, D::Head, D::DHead}, 0, 1, 2},
    {Hook::AttnOut, "hook_attn_out", true, {D::Pos, D::DModel}, 0, -1, 1},
    {Hook::ResidMid, "hook_resid_mid", true, {D::Pos, D::DModel}, 0, -1, 1},
    {Hook::Ln2, "ln2.hook_normalized", true, {D::Pos, D::DModel}, 0, -1, 1},
    {Hook::MlpPre, "mlp.hook_pre", true, {D::Pos, D::DMlp}, 0, -1, 1},
    {Hook::MlpPost, "mlp.hook_post", true, {D::Pos, D::DMlp}, 0, -1, 1},
    {Hook::MlpOut, "hook_mlp_out", true, {D::Pos, D::DModel}, 0, -1, 1},
    {Hook::ResidPost, "hook_resid_post", true, {D::Pos, D::DModel}, 0, -1, 1},
    {Hook::LnFinal, "ln_final.hook_normalized", false, {D::Pos, D::DModel}, 0, -1, 1},
    {Hook::Logits, "logits", false, {D::LogitRows, D::Vocab}, 0, -1, 1},
};

// Levenshtein distance, for "did you mean".
size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
            diag = up;
        }
    }
    return row[b.size()];
}

std::string blocks_range(const Config& c) { return "0.." + std::to_string(c.n_layer - 1); }

}  // namespace

const HookInfo& hook_info(Hook h) { return kHooks[static_cast<int>(h)]; }
bool hook_is_per_block(Hook h) { return hook_info(h).per_block; }
bool hook_before_blocks(Hook h) { return static_cast<int>(h) < static_cast<int>(Hook::ResidPre); }
const char* hook_short_name(Hook h) { return hook_info(h).name; }

std::string hook_full_name(Hook h, int layer) {
    return hook_is_per_block(h) ? "blocks." + std::to_string(layer) + "." + hook_short_name(h) : hook_short_name(h);
}

int dim_length(Dim d, const Config& c, int T, int logits_rows) {
    switch (d) {
        case Dim::Pos: case Dim::Key: return T;
        case Dim::Head: return c.n_head;
        case Dim::DHead: return c.d_head();
        case Dim::DModel: return c.n_embd;
        case Dim::QKV: return 3 * c.n_embd;
        case Dim::DMlp: return c.d_mlp();
        case Dim::Vocab: return c.vocab_size;
        case Dim::LogitRows: return logits_rows;
    }
    return 0;
}

const char* dim_name(Dim d) {
    switch (d) {
        case Dim::Pos: return "pos";
        case Dim::Key: return "key_pos";
        case Dim::Head: return "head";
        case Dim::DHead: return "d_head";
        case Dim::DModel: return "d_model";
        case Dim::QKV: return "3*d_model";
        case Dim::DMlp: return "d_mlp";
        case Dim::Vocab: return "d_vocab";
        case Dim::LogitRows: return "pos";
    }
    return "";
}

std::vector<int> hook_shape(Hook h, const Config& c, int T, int logits_rows) {
    std::vector<int> s;
    for (Dim d : hook_info(h).dims) s.push_back(dim_length(d, c, T, logits_rows));
    return s;
}

int hook_feature_count(Hook h, const Config& c, int T) {
    const HookInfo& i = hook_info(h);
    return dim_length(i.dims[i.feat_axis], c, T);
}

void parse_hook_name(const std::string& name, const Config& c, Hook& hook, int& layer) {
    std::string rest = name;
    layer = -1;
    const bool in_block = name.rfind("blocks.", 0) == 0;
    if (in_block) {
        const size_t dot = name.find('.', 7);
        const std::string num = name.substr(7, dot == std::string::npos ? std::string::npos : dot - 7);
        if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos)
            throw Error("hook \"" + name + "\": after \"blocks.\" comes the block's number, " + blocks_range(c) +
                        " for this model (e.g. blocks.0.hook_resid_post), not \"" + num + "\"");
        if (num.size() > 6 || std::stoi(num) >= c.n_layer)
            throw Error("hook \"" + name + "\": layer " + num + " is out of range: this model has blocks " + blocks_range(c));
        layer = std::stoi(num);
        if (dot == std::string::npos)
            throw Error("hook \"" + name + "\": which hook point of block " + num + "? e.g. blocks." + num + ".hook_resid_post");
        rest = name.substr(dot + 1);
    }
    const HookInfo* best = nullptr;
    size_t best_d = 4;  // only suggest names a few typos away
    for (const HookInfo& i : kHooks) {
        if (rest == i.name) {
            if (i.per_block && !in_block)
                throw Error("hook \"" + name + "\" is inside every block: write blocks.<layer>." + i.name + " (layers " +
                            blocks_range(c) + ")");
            if (!i.per_block && in_block)
                throw Error("hook \"" + name + "\": " + i.name + " is not inside a block; write just " + i.name);
            hook = i.hook;
            return;
        }
        const size_t d = edit_distance(rest, i.name);
        if (d < best_d) { best_d = d; best = &i; }
    }
    std::string msg = "unknown hook point \"" + name + "\"";
    if (best) {
        msg += "; did you mean \"" + (best->per_block ? "blocks." + std::to_string(std::max(layer, 0)) + "." : std::string()) +
               best->name + "\"?";
    } else {
        std::string names;
        for (const HookInfo& i : kHooks)
            if (i.per_block == in_block) names += std::string(names.empty() ? "" : ", ") + i.name;
        msg += in_block ? "; a block's hook points are " + names : "; outside the blocks there are " + names +
                                                                        ", and blocks.<layer>.<hook> inside them";
    }
    throw Error(msg);
}

}  // namespace hooklab
