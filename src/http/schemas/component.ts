import Type, { type TSchema } from 'typebox'

/**
 * The one way to name a schema in the OpenAPI document: give it `$id` and `title` in its options (where they
 * stand decides where the title is printed), list it in COMPONENTS (index.ts), and reach it from routes through
 * componentRef. Validation is the same, and the document names the type (`#/components/schemas/<$id>`), so
 * generated clients get it.
 */
export function componentRef<T extends TSchema> (schema: T) {
  const id = (schema as { $id?: string }).$id
  if (id === undefined) throw new Error('componentRef needs a schema with an $id')
  return Type.Unsafe<Type.Static<T>>(Type.Ref(id))
}
