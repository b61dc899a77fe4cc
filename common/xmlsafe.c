#include "xmlsafe.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct xctx {
	int doctype_line;
	int err_line;
	char msg[256];
};

static void refuse_doctype(void *data, const xmlChar *name, const xmlChar *ext,
			   const xmlChar *sys)
{
	xmlParserCtxtPtr ctxt = data;
	struct xctx *x = ctxt->_private;

	(void)name;
	(void)ext;
	(void)sys;
	if (x && !x->doctype_line)
		x->doctype_line = ctxt->input ? ctxt->input->line : 1;
	xmlStopParser(ctxt);
}

static void collect(void *data, xmlErrorPtr e)
{
	xmlParserCtxtPtr ctxt = data;
	struct xctx *x = ctxt ? ctxt->_private : NULL;

	if (!x || x->msg[0] || !e || e->level < XML_ERR_ERROR)
		return;
	x->err_line = e->line;
	snprintf(x->msg, sizeof(x->msg), "%s", e->message ? e->message : "syntax error");
	x->msg[strcspn(x->msg, "\n")] = '\0';
}

static void silent(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

xmlDocPtr xmlsafe_read(const char *buf, size_t len, const char *what, struct error *err)
{
	struct xctx x = { 0 };
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;
	xmlGenericErrorFunc old = xmlGenericError;
	void *old_ctx = xmlGenericErrorContext;

	if (len > (16u << 20) || len > (size_t)INT32_MAX) {
		error_set(err, EXIT_DATAERR, "%s: too large for an XML file", what);
		return NULL;
	}
	if (memchr(buf, '\0', len)) {
		error_set(err, EXIT_DATAERR, "%s: contains a NUL byte", what);
		return NULL;
	}
	xmlInitParser();
	xmlSetGenericErrorFunc(NULL, silent);
	ctxt = xmlNewParserCtxt();
	if (!ctxt) {
		xmlSetGenericErrorFunc(old_ctx, old);
		error_set(err, EXIT_FAIL, "out of memory");
		return NULL;
	}
	ctxt->_private = &x;
	ctxt->sax->serror = collect;
	ctxt->sax->internalSubset = refuse_doctype;
	ctxt->sax->externalSubset = NULL;
	ctxt->sax->resolveEntity = NULL;
	doc = xmlCtxtReadMemory(ctxt, buf, (int)len, NULL, NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
					XML_PARSE_NOCDATA | XML_PARSE_BIG_LINES);
	if (x.doctype_line) {
		error_set(err, EXIT_DATAERR, "%s:%d: DOCTYPE declarations are not allowed", what,
			  x.doctype_line);
	} else if (!doc || !ctxt->wellFormed || x.msg[0]) {
		error_set(err, EXIT_DATAERR, "%s:%d: not well-formed XML: %s", what, x.err_line,
			  x.msg[0] ? x.msg : "syntax error");
	} else if (doc->intSubset || doc->extSubset || !xmlDocGetRootElement(doc)) {
		error_set(err, EXIT_DATAERR, "%s: no document element (or a DOCTYPE)", what);
	} else {
		xmlFreeParserCtxt(ctxt);
		xmlSetGenericErrorFunc(old_ctx, old);
		return doc;
	}
	if (doc)
		xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	xmlSetGenericErrorFunc(old_ctx, old);
	return NULL;
}

xmlNodePtr xmlsafe_child(xmlNodePtr parent, const char *name)
{
	for (xmlNodePtr k = parent ? parent->children : NULL; k; k = k->next)
		if (k->type == XML_ELEMENT_NODE && !strcmp((const char *)k->name, name))
			return k;
	return NULL;
}

char *xmlsafe_text(xmlNodePtr n)
{
	xmlChar *t = xmlNodeGetContent(n);
	char *s = strdup(t ? (const char *)t : "");

	xmlFree(t);
	return s;
}

char *xmlsafe_attr(xmlNodePtr n, const char *name)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	char *s = v ? strdup((const char *)v) : NULL;

	xmlFree(v);
	return s;
}
