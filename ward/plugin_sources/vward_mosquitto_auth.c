/* The ward's Mosquitto plugin (issue 10): an MQTT client id belongs to its
 * user, and a client subscribes only to the filters the ward lets it.
 *
 * Mosquitto 2.0's password file checks the password only, so a device could
 * connect with another's client id, or the ingest worker's, and take its
 * session over; and its ACL file does not check SUBSCRIBE at all (it filters
 * what is delivered), so a device could join ingest's shared subscription
 * `$share/ingest/...` and be handed a share of every device's readings,
 * which the ACL then withholds from it: lost.  This plugin runs before the
 * password and ACL files and refuses both; everything else it leaves to them
 * (MOSQ_ERR_PLUGIN_DEFER).
 *
 * Rules, as on RabbitMQ (ward/plugin_sources/vward_auth_backend.erl):
 * - a device's user name is its device id, and its client id is the same;
 *   a service user's name holds an '@' (no device id can) and its client ids
 *   begin with its name (ingest@vward-1);
 * - a SUBSCRIBE filter must be one the configuration lists for the user
 *   (plugin_opt_subscribe_<user>), or for a device one of
 *   plugin_opt_subscribe_device with %u its user name, or a topic without
 *   wildcards that such a listed filter matches (not under `$`).
 *
 * Built by `vward up` (ward/broker_plugins.py) with the system's C compiler.
 * The few declarations of Mosquitto 2.0's plugin API (mosquitto_broker.h,
 * mosquitto_plugin.h, plugin version 5) are copied below, so no -dev package
 * is needed. */

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MOSQ_PLUGIN_VERSION 5
#define MOSQ_ACL_SUBSCRIBE 0x04
#define MOSQ_EVT_ACL_CHECK 2
#define MOSQ_EVT_BASIC_AUTH 3
#define MOSQ_ERR_SUCCESS 0
#define MOSQ_ERR_NOMEM 1
#define MOSQ_ERR_AUTH 11
#define MOSQ_ERR_ACL_DENIED 12
#define MOSQ_ERR_PLUGIN_DEFER 17
#define MOSQ_LOG_NOTICE 0x04

struct mosquitto;
typedef struct mosquitto_plugin_id_t mosquitto_plugin_id_t;
typedef struct mqtt5__property mosquitto_property;
typedef int (*MOSQ_FUNC_generic_callback)(int, void *, void *);

struct mosquitto_opt {
	char *key;
	char *value;
};

struct mosquitto_evt_acl_check {
	void *future;
	struct mosquitto *client;
	const char *topic;
	const void *payload;
	mosquitto_property *properties;
	int access;
	uint32_t payloadlen;
	uint8_t qos;
	bool retain;
	void *future2[4];
};

struct mosquitto_evt_basic_auth {
	void *future;
	struct mosquitto *client;
	char *username;
	char *password;
	void *future2[4];
};

int mosquitto_callback_register(mosquitto_plugin_id_t *identifier, int event,
		MOSQ_FUNC_generic_callback cb_func, const void *event_data, void *userdata);
int mosquitto_callback_unregister(mosquitto_plugin_id_t *identifier, int event,
		MOSQ_FUNC_generic_callback cb_func, const void *event_data);
const char *mosquitto_client_id(const struct mosquitto *client);
const char *mosquitto_client_username(const struct mosquitto *client);
void mosquitto_log_printf(int level, const char *fmt, ...);

#define SUBSCRIBE_KEY "subscribe_"
#define DEVICE_KEY "device"

static mosquitto_plugin_id_t *plugin_id;
static struct mosquitto_opt *rules; /* our own copies of the plugin_opt_subscribe_* lines */
static int rule_count;

static bool is_service(const char *username)
{
	return strchr(username, '@') != NULL;
}

/* A topic without wildcards against a filter with + and #. */
static bool topic_matches(const char *filter, const char *topic)
{
	for (;;) {
		size_t flen = strcspn(filter, "/"), tlen = strcspn(topic, "/");
		if (flen == 1 && filter[0] == '#') {
			return true;
		}
		if (!(flen == 1 && filter[0] == '+')
				&& (flen != tlen || strncmp(filter, topic, flen) != 0)) {
			return false;
		}
		filter += flen;
		topic += tlen;
		if (*filter == '\0' || *topic == '\0') {
			return (*filter == '\0' && *topic == '\0')
				|| (*topic == '\0' && strcmp(filter, "/#") == 0); /* a/# matches a */
		}
		filter++;
		topic++;
	}
}

/* `listed` with each %u replaced by `username`, into `out` (size `size`). */
static bool expand(const char *listed, size_t len, const char *username, char *out, size_t size)
{
	size_t n = 0, ulen = strlen(username);
	for (size_t i = 0; i < len; i++) {
		if (listed[i] == '%' && i + 1 < len && listed[i + 1] == 'u') {
			if (n + ulen >= size) {
				return false;
			}
			memcpy(out + n, username, ulen);
			n += ulen;
			i++;
		} else {
			if (n + 1 >= size) {
				return false;
			}
			out[n++] = listed[i];
		}
	}
	out[n] = '\0';
	return true;
}

static bool filter_allowed(const char *filters, const char *username, const char *wanted)
{
	bool plain = strpbrk(wanted, "+#") == NULL && wanted[0] != '$';
	const char *p = filters;
	char one[1024];
	while (*p) {
		size_t len = strcspn(p, " \t");
		if (len && expand(p, len, username, one, sizeof one)) {
			if (strcmp(one, wanted) == 0 || (plain && one[0] != '$' && topic_matches(one, wanted))) {
				return true;
			}
		}
		p += len;
		p += strspn(p, " \t");
	}
	return false;
}

static const char *filters_of(const char *username)
{
	const char *key = is_service(username) ? username : DEVICE_KEY;
	for (int i = 0; i < rule_count; i++) {
		if (strcmp(rules[i].key, key) == 0) {
			return rules[i].value;
		}
	}
	return "";
}

static int on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	const char *username = ed->username;
	const char *client_id = mosquitto_client_id(ed->client);
	(void)event;
	(void)userdata;
	if (username == NULL || client_id == NULL) {
		return MOSQ_ERR_PLUGIN_DEFER; /* no user name: allow_anonymous false refuses it */
	}
	bool own = is_service(username)
		? strncmp(client_id, username, strlen(username)) == 0
		: strcmp(client_id, username) == 0;
	if (!own) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
			"vward: client id '%s' refused: not user '%s''s own", client_id, username);
		return MOSQ_ERR_AUTH;
	}
	return MOSQ_ERR_PLUGIN_DEFER; /* the password file decides */
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	(void)event;
	(void)userdata;
	if (ed->access != MOSQ_ACL_SUBSCRIBE) {
		return MOSQ_ERR_PLUGIN_DEFER; /* publish and delivery: the ACL file */
	}
	const char *username = mosquitto_client_username(ed->client);
	if (username != NULL && ed->topic != NULL
			&& filter_allowed(filters_of(username), username, ed->topic)) {
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "vward: subscription '%s' refused to user '%s'",
		ed->topic ? ed->topic : "", username ? username : "");
	return MOSQ_ERR_ACL_DENIED;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for (int i = 0; i < supported_version_count; i++) {
		if (supported_versions[i] == MOSQ_PLUGIN_VERSION) {
			return MOSQ_PLUGIN_VERSION;
		}
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	plugin_id = identifier;
	rules = calloc(option_count > 0 ? (size_t)option_count : 1, sizeof *rules);
	if (rules == NULL) {
		return MOSQ_ERR_NOMEM;
	}
	size_t klen = strlen(SUBSCRIBE_KEY);
	for (int i = 0; i < option_count; i++) {
		if (strncmp(options[i].key, SUBSCRIBE_KEY, klen) == 0 && options[i].value) {
			rules[rule_count].key = strdup(options[i].key + klen);
			rules[rule_count].value = strdup(options[i].value);
			if (!rules[rule_count].key || !rules[rule_count].value) {
				return MOSQ_ERR_NOMEM;
			}
			rule_count++;
		}
	}
	int rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL, NULL);
	if (rc != MOSQ_ERR_SUCCESS) {
		return rc;
	}
	return mosquitto_callback_register(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, NULL);
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	(void)options;
	(void)option_count;
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
	for (int i = 0; i < rule_count; i++) {
		free(rules[i].key);
		free(rules[i].value);
	}
	free(rules);
	rules = NULL;
	rule_count = 0;
	return MOSQ_ERR_SUCCESS;
}
