// Reading a checkpoint's four files into a Model.
#include <fstream>

#include "hooklab/error.h"
#include "hooklab/model.h"

namespace hooklab {

namespace {

// One read into a buffer of the file's size: a checkpoint can be gigabytes, so no
// stream copies.
std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    if (!f) throw Error("cannot open " + path);
    const std::streamoff size = f.tellg();
    if (size < 0) throw Error("cannot read " + path);
    std::string data(static_cast<size_t>(size), '\0');
    f.seekg(0);
    if (size > 0 && !f.read(&data[0], size)) throw Error("cannot read " + path);
    return data;
}

}  // namespace

void check_tokenizer_fits(const Config& c, const Tokenizer& t) {
    if (t.vocab_size() > c.vocab_size)
        throw Error("vocab.json has " + std::to_string(t.vocab_size()) + " tokens but config.json says vocab_size " +
                    std::to_string(c.vocab_size));
}

Model load_model_buffers(const std::string& config_text, const uint8_t* st, size_t size, const std::string& vocab,
                         const std::string& merges, bool f16_weights) {
    Model m;
    const Config cfg = parse_config(config_text);
    m.tokenizer = Tokenizer::from_files(vocab, merges);
    check_tokenizer_fits(cfg, m.tokenizer);
    m.gpt2 = GPT2::from_safetensors(cfg, st, size, f16_weights);
    return m;
}

Model load_model_dir(const std::string& dir, bool f16_weights) {
    const std::string st = read_file(dir + "/model.safetensors");
    return load_model_buffers(read_file(dir + "/config.json"), reinterpret_cast<const uint8_t*>(st.data()), st.size(),
                              read_file(dir + "/vocab.json"), read_file(dir + "/merges.txt"), f16_weights);
}

}  // namespace hooklab
