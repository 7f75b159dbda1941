#include "CSolidTLS.h"
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

int solid_ssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version) { return (int)SSL_CTX_set_min_proto_version(ctx, version); }

void solid_ssl_ctx_set_safe_options(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
}

void solid_ssl_ctx_set_client_session_cache(SSL_CTX *ctx) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
}

void solid_ssl_ctx_set_server_defaults(SSL_CTX *ctx) {
    // Resumption through stateless tickets only: no per-session state kept on the server.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    // The server sends the chain it was given, never one built from the trust store per handshake.
    SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
}

int solid_ssl_ctx_add_extra_chain_cert(SSL_CTX *ctx, X509 *cert) { return (int)SSL_CTX_add_extra_chain_cert(ctx, cert); }
int solid_ssl_set_tlsext_host_name(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }
int solid_err_get_lib(unsigned long code) { return ERR_GET_LIB(code); }
int solid_err_get_reason(unsigned long code) { return ERR_GET_REASON(code); }
int solid_err_is_ssl_reason(unsigned long code) { return ERR_GET_LIB(code) == ERR_LIB_SSL; }

void solid_x509_visit_sans(X509 *cert, void *context, void (*visit)(void *, int, const unsigned char *, int)) {
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (names == NULL) return;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
        if (name->type == GEN_DNS) {
            visit(context, 1, ASN1_STRING_get0_data(name->d.dNSName), ASN1_STRING_length(name->d.dNSName));
        } else if (name->type == GEN_IPADD) {
            visit(context, 2, ASN1_STRING_get0_data(name->d.iPAddress), ASN1_STRING_length(name->d.iPAddress));
        }
    }
    GENERAL_NAMES_free(names);
}

int solid_x509_common_name(X509 *cert, char *buffer, int size) {
    return X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buffer, size);
}

EVP_PKEY *solid_ec_p256_key(void) { return EVP_EC_gen("P-256"); }

int solid_x509_add_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL) return 0;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

int solid_x509_set_validity(X509 *cert, long from_seconds, long to_seconds) {
    return X509_gmtime_adj(X509_getm_notBefore(cert), from_seconds) != NULL &&
           X509_gmtime_adj(X509_getm_notAfter(cert), to_seconds) != NULL;
}

const char *solid_ssl_version_text(const SSL *ssl) { return SSL_get_version(ssl); }

int solid_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                      unsigned int inlen, void *arg) {
    const unsigned char *server = arg;
    unsigned int server_len = (unsigned int)strlen((const char *)server);  // wire format, zero-terminated copy
    unsigned char *selected = NULL;
    if (SSL_select_next_proto(&selected, outlen, server, server_len, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

// MARK: the stream BIO

static int solid_bio_write(BIO *bio, const char *data, size_t length, size_t *written) {
    solid_bio_state *state = BIO_get_data(bio);
    BIO_clear_flags(bio, BIO_FLAGS_RWS | BIO_FLAGS_SHOULD_RETRY);
    size_t direct = 0;
    if (state->output != NULL && state->spill_length == 0) {
        size_t room = state->output_capacity - state->output_length;
        direct = length < room ? length : room;
        memcpy(state->output + state->output_length, data, direct);
        state->output_length += direct;
    }
    size_t rest = length - direct;
    if (rest > 0) {
        if (state->spill_length + rest > state->spill_capacity) {
            size_t capacity = state->spill_capacity ? state->spill_capacity : 4096;
            while (capacity < state->spill_length + rest) capacity *= 2;
            unsigned char *grown = realloc(state->spill, capacity);
            if (grown == NULL) return 0;
            state->spill = grown;
            state->spill_capacity = capacity;
        }
        memcpy(state->spill + state->spill_length, data + direct, rest);
        state->spill_length += rest;
    }
    *written = length;
    return 1;
}

static int solid_bio_read(BIO *bio, char *data, size_t length, size_t *read) {
    solid_bio_state *state = BIO_get_data(bio);
    BIO_clear_flags(bio, BIO_FLAGS_RWS | BIO_FLAGS_SHOULD_RETRY);
    if (state->input_length == 0) {
        BIO_set_flags(bio, BIO_FLAGS_READ | BIO_FLAGS_SHOULD_RETRY);  // "wait for more", not end of file
        *read = 0;
        return 0;
    }
    size_t count = length < state->input_length ? length : state->input_length;
    memcpy(data, state->input, count);
    state->input += count;
    state->input_length -= count;
    *read = count;
    return 1;
}

static long solid_bio_ctrl(BIO *bio, int command, long number, void *pointer) {
    (void)number;
    (void)pointer;
    solid_bio_state *state = BIO_get_data(bio);
    switch (command) {
    case BIO_CTRL_FLUSH:
    case BIO_CTRL_DUP:
        return 1;
    case BIO_CTRL_PENDING:
        return (long)state->input_length;
    case BIO_CTRL_WPENDING:
        return (long)state->spill_length;
    default:
        return 0;
    }
}

static int solid_bio_create(BIO *bio) {
    BIO_set_init(bio, 1);
    return 1;
}

static int solid_bio_destroy(BIO *bio) {
    BIO_set_data(bio, NULL);
    return 1;
}

static BIO_METHOD *solid_bio_method_instance = NULL;
static CRYPTO_ONCE solid_bio_method_once = CRYPTO_ONCE_STATIC_INIT;

static void solid_bio_method_make(void) {
    BIO_METHOD *method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "solid stream");
    if (method == NULL) return;
    BIO_meth_set_write_ex(method, solid_bio_write);
    BIO_meth_set_read_ex(method, solid_bio_read);
    BIO_meth_set_ctrl(method, solid_bio_ctrl);
    BIO_meth_set_create(method, solid_bio_create);
    BIO_meth_set_destroy(method, solid_bio_destroy);
    solid_bio_method_instance = method;
}

BIO *solid_bio_new(solid_bio_state *state) {
    if (!CRYPTO_THREAD_run_once(&solid_bio_method_once, solid_bio_method_make) || solid_bio_method_instance == NULL) {
        return NULL;
    }
    BIO *bio = BIO_new(solid_bio_method_instance);
    if (bio != NULL) BIO_set_data(bio, state);
    return bio;
}

void solid_bio_state_release(solid_bio_state *state) {
    free(state->spill);
    state->spill = NULL;
    state->spill_length = 0;
    state->spill_capacity = 0;
}
