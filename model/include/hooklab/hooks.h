#pragma once
#include <string>
#include <vector>

#include "hooklab/config.h"

namespace hooklab {

// Hook points, in the order they fire (TransformerLens names).
enum class Hook : int {
    Embed, PosEmbed,
    ResidPre, Ln1, Qkv, Q, K, V, AttnScores, Pattern, Z, AttnOut, ResidMid,
    Ln2, MlpPre, MlpPost, MlpOut, ResidPost,
    LnFinal, Logits,
    Count
};
constexpr int kHookCount = static_cast<int>(Hook::Count);

// One dimension of a hook's tensor, by what its length is.
enum class Dim { Pos, Head, DHead, DModel, QKV, DMlp, Key, Vocab, LogitRows };

// Everything the engine, the interventions, the captures, the fuzzers and the JS API
// need to know about a hook point; the one table is in hooks.cpp.
struct HookInfo {
    Hook hook;
    const char* name;  // without "blocks.{i}."
    bool per_block;
    std::vector<Dim> dims;
    // Which dimension the selectors address (-1: the hook has no such axis).
    int pos_axis, head_axis, feat_axis;
};

const HookInfo& hook_info(Hook h);
bool hook_is_per_block(Hook h);
// A hook that fires before the first block (hook_embed, hook_pos_embed): it can change
// every block. The other non-block hooks fire after the last one.
bool hook_before_blocks(Hook h);
// "attn.hook_z" / "hook_embed"... : the name without "blocks.{i}."
const char* hook_short_name(Hook h);
// "blocks.3.attn.hook_z", or "hook_embed" for non-block hooks.
std::string hook_full_name(Hook h, int layer);

// The length of one dimension for a prompt of T tokens; logits_rows: how many positions
// the logits are computed for (1: the last only).
int dim_length(Dim d, const Config& c, int T, int logits_rows = 1);
const char* dim_name(Dim d);  // "pos", "head", "d_head", "d_model", ...
std::vector<int> hook_shape(Hook h, const Config& c, int T, int logits_rows = 1);
// Length of the axis `features` selects (d_head, d_mlp, key positions, vocabulary...).
int hook_feature_count(Hook h, const Config& c, int T);

// Parses a full name ("blocks.3.mlp.hook_post", "logits") into hook and layer (-1 for
// non-block hooks), checking the layer against the model. Throws Error with a message
// for a learner: which part is wrong and what would be right.
void parse_hook_name(const std::string& name, const Config& c, Hook& hook, int& layer);

}  // namespace hooklab
