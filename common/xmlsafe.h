/*
 * xmlsafe.h — reading XML from files we do not trust (snapshot metadata,
 * imported streams): XML_PARSE_NONET, no entity substitution, no DTD
 * loading, and a DOCTYPE stops the parse (so no entity can be declared,
 * let alone expanded). Errors: EXIT_DATAERR "what:line: message".
 */
#ifndef VMSNAP_XMLSAFE_H
#define VMSNAP_XMLSAFE_H

#include <libxml/tree.h>
#include <stddef.h>

#include "error.h"

xmlDocPtr xmlsafe_read(const char *buf, size_t len, const char *what, struct error *err);
/* Element children by name: the next sibling element after `from` (NULL: first child). */
xmlNodePtr xmlsafe_child(xmlNodePtr parent, const char *name);
/* Text content of an element (malloc'ed, never NULL unless out of memory). */
char *xmlsafe_text(xmlNodePtr n);
/* Attribute value (malloc'ed) or NULL. */
char *xmlsafe_attr(xmlNodePtr n, const char *name);

#endif
