/* The GMime peer of the parser benchmark (docs/benchmarks.md): GMime 3, the C library behind Evolution and
 * many mail filters, doing the work a webhook service needs of every message: parse it, decode every header's
 * encoded words, and decode every leaf part, text parts to UTF-8 from their charset.
 *
 *   gmime_peer CORPUS_DIR [ROUNDS]        timing, one JSON line like parser-benchmark's
 *   gmime_peer --dump CORPUS_DIR          one JSON line per message: plain, html, attachments, subject
 *
 * The messages are read into memory first, as parser-benchmark reads them; each is parsed from its buffer
 * without a copy. Built by scripts/bench-parser against Debian's libgmime-3.0-dev. */
#include <dirent.h>
#include <gmime/gmime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char *name;
    unsigned char *bytes;
    size_t size;
} Message;

static int by_name(const void *a, const void *b) {
    return strcmp(((const Message *)a)->name, ((const Message *)b)->name);
}

static Message *load(const char *directory, size_t *count) {
    DIR *dir = opendir(directory);
    if (!dir) {
        perror(directory);
        exit(2);
    }
    size_t capacity = 256, n = 0;
    Message *messages = malloc(capacity * sizeof(Message));
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        size_t length = strlen(entry->d_name);
        if (length < 4 || strcmp(entry->d_name + length - 4, ".eml") != 0) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", directory, entry->d_name);
        FILE *file = fopen(path, "rb");
        if (!file) continue;
        fseek(file, 0, SEEK_END);
        long size = ftell(file);
        fseek(file, 0, SEEK_SET);
        unsigned char *bytes = malloc(size > 0 ? size : 1);
        if (size > 0 && fread(bytes, 1, size, file) != (size_t)size) size = 0;
        fclose(file);
        if (n == capacity) messages = realloc(messages, (capacity *= 2) * sizeof(Message));
        messages[n++] = (Message){strdup(entry->d_name), bytes, (size_t)size};
    }
    closedir(dir);
    qsort(messages, n, sizeof(Message), by_name);
    *count = n;
    return messages;
}

/* What one message gave: the first plain and html bodies, and every other leaf part. */
typedef struct {
    char *plain, *html, *subject;
    GString *attachments; /* JSON array items, for --dump */
    size_t decoded;       /* bytes decoded, so the work cannot be optimised away */
} View;

static void json_string(GString *out, const char *text) {
    if (!text) {
        g_string_append(out, "null");
        return;
    }
    g_string_append_c(out, '"');
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        switch (*p) {
        case '"': g_string_append(out, "\\\""); break;
        case '\\': g_string_append(out, "\\\\"); break;
        case '\n': g_string_append(out, "\\n"); break;
        case '\r': g_string_append(out, "\\r"); break;
        case '\t': g_string_append(out, "\\t"); break;
        default:
            if (*p < 0x20) g_string_append_printf(out, "\\u%04x", *p);
            else g_string_append_c(out, *p);
        }
    }
    g_string_append_c(out, '"');
}

static void visit(GMimeObject *parent, GMimeObject *object, gpointer data) {
    (void)parent;
    View *view = data;
    if (!GMIME_IS_PART(object)) return;
    GMimePart *part = GMIME_PART(object);
    GMimeContentType *type = g_mime_object_get_content_type(object);
    gboolean attachment = g_mime_part_get_filename(part) != NULL || g_mime_part_is_attachment(part);
    if (GMIME_IS_TEXT_PART(object) && !attachment) {
        char *text = g_mime_text_part_get_text(GMIME_TEXT_PART(object));
        size_t length = text ? strlen(text) : 0;
        view->decoded += length;
        if (g_mime_content_type_is_type(type, "text", "plain") && !view->plain) {
            view->plain = text;
            return;
        }
        if (g_mime_content_type_is_type(type, "text", "html") && !view->html) {
            view->html = text;
            return;
        }
        g_free(text);
    }
    GMimeDataWrapper *content = g_mime_part_get_content(part);
    GMimeStream *decoded = g_mime_stream_mem_new();
    if (content) g_mime_data_wrapper_write_to_stream(content, decoded);
    size_t size = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(decoded))->len;
    view->decoded += size;
    g_object_unref(decoded);
    if (view->attachments) {
        char *mime = g_mime_content_type_get_mime_type(type);
        if (view->attachments->len > 1) g_string_append_c(view->attachments, ',');
        g_string_append_c(view->attachments, '[');
        json_string(view->attachments, g_mime_part_get_filename(part));
        g_string_append_c(view->attachments, ',');
        json_string(view->attachments, mime);
        g_string_append_printf(view->attachments, ",%zu]", size);
        g_free(mime);
    }
}

static View process(const Message *message, gboolean dump) {
    View view = {0};
    if (dump) view.attachments = g_string_new("[");
    GByteArray *buffer = g_byte_array_new_take(message->bytes, message->size);
    GMimeStream *stream = g_mime_stream_mem_new_with_byte_array(buffer);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *parsed = g_mime_parser_construct_message(parser, NULL);
    if (parsed) {
        GMimeHeaderList *headers = g_mime_object_get_header_list(GMIME_OBJECT(parsed));
        int count = g_mime_header_list_get_count(headers);
        for (int i = 0; i < count; i++) {
            GMimeHeader *header = g_mime_header_list_get_header_at(headers, i);
            char *value = g_mime_utils_header_decode_text(NULL, g_mime_header_get_value(header));
            view.decoded += value ? strlen(value) : 0;
            g_free(value);
        }
        const char *subject = g_mime_message_get_subject(parsed);
        view.subject = subject ? g_strdup(subject) : NULL;
        g_mime_message_foreach(parsed, visit, &view);
        g_object_unref(parsed);
    }
    g_object_unref(parser);
    g_object_unref(stream);
    g_byte_array_steal(buffer, NULL); /* the message's bytes stay for the next round */
    g_byte_array_unref(buffer);
    return view;
}

static void release(View *view) {
    g_free(view->plain);
    g_free(view->html);
    g_free(view->subject);
    if (view->attachments) g_string_free(view->attachments, TRUE);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    gboolean dump = argc > 1 && strcmp(argv[1], "--dump") == 0;
    if (argc < 2 || (dump && argc < 3)) {
        fprintf(stderr, "usage: gmime_peer CORPUS_DIR [ROUNDS] | gmime_peer --dump CORPUS_DIR\n");
        return 2;
    }
    g_mime_init();
    size_t count;
    Message *messages = load(argv[dump ? 2 : 1], &count);
    if (dump) {
        for (size_t i = 0; i < count; i++) {
            View view = process(&messages[i], TRUE);
            GString *line = g_string_new("{\"file\":");
            json_string(line, messages[i].name);
            g_string_append(line, ",\"plain\":");
            json_string(line, view.plain);
            g_string_append(line, ",\"html\":");
            json_string(line, view.html);
            g_string_append(line, ",\"subject\":");
            json_string(line, view.subject);
            g_string_append(line, ",\"attachments\":");
            g_string_append(line, view.attachments->str);
            g_string_append(line, "]}\n");
            fputs(line->str, stdout);
            g_string_free(line, TRUE);
            release(&view);
        }
        return 0;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (rounds < 1) rounds = 1;
    size_t total = 0, checksum = 0;
    for (size_t i = 0; i < count; i++) total += messages[i].size;
    double *seconds = malloc(rounds * sizeof(double));
    for (int round = 0; round < rounds; round++) {
        double start = now();
        for (size_t i = 0; i < count; i++) {
            View view = process(&messages[i], FALSE);
            checksum += view.decoded;
            release(&view);
        }
        seconds[round] = now() - start;
        fprintf(stderr, "round %d/%d: %.3f s\n", round + 1, rounds, seconds[round]);
    }
    qsort(seconds, rounds, sizeof(double), compare_doubles);
    double median = seconds[rounds / 2];
    printf("{\"messages\": %zu, \"bytes\": %zu, \"median_seconds\": %.4f, \"mb_per_s\": %.1f, \"messages_per_s\": %.0f, "
           "\"checksum\": %zu, \"gmime\": \"%d.%d.%d\"}\n",
           count, total, median, total / 1e6 / median, count / median, checksum, gmime_major_version, gmime_minor_version,
           gmime_micro_version);
    return 0;
}
