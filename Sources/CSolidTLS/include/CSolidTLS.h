// Functions for the OpenSSL macros Swift cannot import (SSL_set_tlsext_host_name, SSL_OP_*,
// sk_* stacks, ...), and the BIO a TLS stream runs on.
#ifndef CSOLIDTLS_H
#define CSOLIDTLS_H

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/evp.h>

int solid_ssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version);
/// No renegotiation, no compression, no TLS < 1.2 tickets in the clear: the options every context gets.
void solid_ssl_ctx_set_safe_options(SSL_CTX *ctx);
void solid_ssl_ctx_set_client_session_cache(SSL_CTX *ctx);
/// Server: stateless tickets only (no session cache), and no chain building from the store per handshake.
void solid_ssl_ctx_set_server_defaults(SSL_CTX *ctx);
int solid_ssl_ctx_add_extra_chain_cert(SSL_CTX *ctx, X509 *cert);
int solid_ssl_set_tlsext_host_name(SSL *ssl, const char *name);
int solid_err_get_lib(unsigned long code);
int solid_err_get_reason(unsigned long code);
int solid_err_is_ssl_reason(unsigned long code);

/// Subject alternative names of a certificate: calls `visit(context, kind, bytes, length)` with kind
/// 1 = DNS name (text), 2 = IP address (4 or 16 raw bytes).
void solid_x509_visit_sans(X509 *cert, void *context, void (*visit)(void *, int, const unsigned char *, int));
/// The first common name of the subject, copied into `buffer` (zero-terminated); its length or -1.
int solid_x509_common_name(X509 *cert, char *buffer, int size);

/// A new EC P-256 key.
EVP_PKEY *solid_ec_p256_key(void);
/// Adds an X.509v3 extension (`nid`, OpenSSL config text such as "critical,CA:TRUE") to `cert`, issued by
/// `issuer` (itself for a self-signed certificate). 1 on success.
int solid_x509_add_ext(X509 *cert, X509 *issuer, int nid, const char *value);
/// Sets the validity to [now + from_seconds, now + to_seconds]. 1 on success.
int solid_x509_set_validity(X509 *cert, long from_seconds, long to_seconds);

/// The negotiated protocol version text ("TLSv1.3").
const char *solid_ssl_version_text(const SSL *ssl);

/// ALPN selection for servers: picks the first protocol of the server's list (`arg`, wire format) that
/// the client offered. Installed with SSL_CTX_set_alpn_select_cb.
int solid_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                      unsigned int inlen, void *arg);

/// The state behind a TLS stream's BIO: OpenSSL reads ciphertext straight from the bytes the socket
/// stream just read (`input`), and writes ciphertext straight into the array the stream is about to hand
/// to the socket (`output`), spilling what does not fit (handshake messages, alerts) into `spill`.
typedef struct solid_bio_state {
    const unsigned char *input;
    size_t input_length;
    unsigned char *output;
    size_t output_capacity;
    size_t output_length;
    unsigned char *spill;
    size_t spill_length;
    size_t spill_capacity;
} solid_bio_state;

/// A BIO over `state` (which must outlive it); NULL when OpenSSL cannot make one.
BIO *solid_bio_new(solid_bio_state *state);
/// Frees the spill buffer.
void solid_bio_state_release(solid_bio_state *state);

#endif
