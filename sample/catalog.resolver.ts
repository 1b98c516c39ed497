import { Args, Field, Int, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';

@ObjectType()
export class Product {
  @Field(() => Int)
  id!: number;

  @Field(() => String)
  name!: string;
}

/** GraphQL root fields (POST /graphql): measured as graphql_* metrics, per operation type and field. */
@Resolver(() => Product)
export class CatalogResolver {
  private readonly products: Product[] = [{ id: 1, name: 'Keyboard' }];

  @Query(() => [Product], { name: 'products' })
  listProducts(): Product[] {
    return this.products;
  }

  @Mutation(() => Product)
  addProduct(@Args('name', { type: () => String }) name: string): Product {
    if (name.trim() === '') throw new Error('a product needs a name');
    const product = { id: this.products.length + 1, name };
    this.products.push(product);
    return product;
  }
}
